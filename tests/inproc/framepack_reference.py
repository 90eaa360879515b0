"""An independent plain-torch forward of FramePack's packed transformer, for tests only.

Written from the structure of ``HunyuanVideoTransformer3DModelPacked`` (lllyasviel/FramePack,
``diffusers_helper/models/hunyuan_video_packed.py``) and the diffusers blocks it uses, on the
*released* (diffusers) key names, batch 1, no text mask. It shares no code with the pack's
model (which runs ComfyUI's HunyuanVideo), so agreement checks the key conversion, the
token packing, the averaged RoPE of 2×/4× latents and the image-token path.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tests.references import rope_grid


def _lin(sd, name, x):
    return F.linear(x, sd[f"{name}.weight"], sd.get(f"{name}.bias"))


def _timestep_proj(t, dim=256, max_period=10000):
    """diffusers ``Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0)``."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def _mlp2(sd, name, x, act=F.silu):
    return _lin(sd, f"{name}.linear_2", act(_lin(sd, f"{name}.linear_1", x)))


def _rms(x, w, eps=1e-6):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * w


def _attention(q, k, v):
    """q, k, v ``[B, L, H, D]`` → ``[B, L, H·D]``."""
    o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return o.transpose(1, 2).flatten(2)


def _pad3(x, k):
    t, h, w = x.shape[-3:]
    return F.pad(x, (0, (-w) % k[2], 0, (-h) % k[1], 0, (-t) % k[0]), mode="replicate")


def _apply_rope(x, freqs):
    """x ``[B, L, H, D]``, freqs ``[B, L, 2D]`` (cos ++ sin): rotate adjacent pairs."""
    cos, sin = freqs.unsqueeze(-2).chunk(2, dim=-1)
    re, im = x.unflatten(-1, (-1, 2)).unbind(-1)
    rot = torch.stack([-im, re], dim=-1).flatten(3)
    return (x.float() * cos + rot.float() * sin).to(x.dtype)


def packed_forward(sd, x, timestep, text, text_pooled, guidance, image_embeddings, latent_indices,
                   clean_latents, clean_latent_indices, clean_latents_2x, clean_latent_2x_indices,
                   clean_latents_4x, clean_latent_4x_indices, heads=1):
    """FramePack's forward; ``guidance`` already ×1000 as the original passes it. Returns ``[1,16,T,H,W]``."""
    _, _, t, h, w = x.shape
    hp, wp = h // 2, w // 2
    tokens = F.conv3d(x, sd["x_embedder.proj.weight"], sd["x_embedder.proj.bias"], stride=(1, 2, 2))
    tokens = tokens.flatten(2).transpose(1, 2)
    freqs = rope_grid(latent_indices[0], hp, wp)[None].flatten(2).transpose(1, 2)
    n_video = tokens.shape[1]
    for lat, idx, name, k in ((clean_latents, clean_latent_indices, "proj", 1),
                              (clean_latents_2x, clean_latent_2x_indices, "proj_2x", 2),
                              (clean_latents_4x, clean_latent_4x_indices, "proj_4x", 4)):
        kern = (k, 2 * k, 2 * k)
        c = F.conv3d(_pad3(lat, kern), sd[f"clean_x_embedder.{name}.weight"], sd[f"clean_x_embedder.{name}.bias"],
                     stride=kern).flatten(2).transpose(1, 2)
        g = rope_grid(idx[0], hp, wp)[None]
        if k > 1:
            g = F.avg_pool3d(_pad3(g, (k, k, k)), k, stride=k)
        tokens = torch.cat([c, tokens], dim=1)
        freqs = torch.cat([g.flatten(2).transpose(1, 2), freqs], dim=1)

    temb = (_mlp2(sd, "time_text_embed.timestep_embedder", _timestep_proj(timestep))
            + _mlp2(sd, "time_text_embed.guidance_embedder", _timestep_proj(guidance))
            + _mlp2(sd, "time_text_embed.text_embedder", text_pooled))

    # token refiner
    ce = "context_embedder"
    rtemb = (_mlp2(sd, f"{ce}.time_text_embed.timestep_embedder", _timestep_proj(timestep))
             + _mlp2(sd, f"{ce}.time_text_embed.text_embedder", text.mean(dim=1)))
    ctx = _lin(sd, f"{ce}.proj_in", text)
    i = 0
    while f"{ce}.token_refiner.refiner_blocks.{i}.norm1.weight" in sd:
        rb = f"{ce}.token_refiner.refiner_blocks.{i}"
        n1 = F.layer_norm(ctx, ctx.shape[-1:], sd[f"{rb}.norm1.weight"], sd[f"{rb}.norm1.bias"], eps=1e-6)
        q, k_, v = (_lin(sd, f"{rb}.attn.{p}", n1).unflatten(2, (heads, -1)) for p in ("to_q", "to_k", "to_v"))
        a = _lin(sd, f"{rb}.attn.to_out.0", _attention(q, k_, v))
        g_msa, g_mlp = _lin(sd, f"{rb}.norm_out.linear", F.silu(rtemb)).unsqueeze(1).chunk(2, dim=-1)
        ctx = ctx + a * g_msa
        n2 = F.layer_norm(ctx, ctx.shape[-1:], sd[f"{rb}.norm2.weight"], sd[f"{rb}.norm2.bias"], eps=1e-6)
        ctx = ctx + _lin(sd, f"{rb}.ff.net.2", F.silu(_lin(sd, f"{rb}.ff.net.0.proj", n2))) * g_mlp
        i += 1
    img_tok = _lin(sd, "image_projection.down", F.silu(_lin(sd, "image_projection.up", image_embeddings)))
    ctx = torch.cat([img_tok, ctx], dim=1)
    n_txt = ctx.shape[1]

    def ln(z):
        return F.layer_norm(z, z.shape[-1:], eps=1e-6)

    i = 0
    while f"transformer_blocks.{i}.norm1.linear.weight" in sd:
        tb = f"transformer_blocks.{i}"
        mods = _lin(sd, f"{tb}.norm1.linear", F.silu(temb)).unsqueeze(1).chunk(6, dim=-1)
        cmods = _lin(sd, f"{tb}.norm1_context.linear", F.silu(temb)).unsqueeze(1).chunk(6, dim=-1)
        nx = ln(tokens) * (1 + mods[1]) + mods[0]
        nc = ln(ctx) * (1 + cmods[1]) + cmods[0]
        q, k_, v = (_lin(sd, f"{tb}.attn.{p}", nx).unflatten(2, (heads, -1)) for p in ("to_q", "to_k", "to_v"))
        q, k_ = _rms(q, sd[f"{tb}.attn.norm_q.weight"]), _rms(k_, sd[f"{tb}.attn.norm_k.weight"])
        q, k_ = _apply_rope(q, freqs), _apply_rope(k_, freqs)
        cq, ck, cv = (_lin(sd, f"{tb}.attn.{p}", nc).unflatten(2, (heads, -1)) for p in ("add_q_proj", "add_k_proj", "add_v_proj"))
        cq, ck = _rms(cq, sd[f"{tb}.attn.norm_added_q.weight"]), _rms(ck, sd[f"{tb}.attn.norm_added_k.weight"])
        o = _attention(torch.cat([q, cq], 1), torch.cat([k_, ck], 1), torch.cat([v, cv], 1))
        a, ca = o[:, :-n_txt], o[:, -n_txt:]
        tokens = tokens + _lin(sd, f"{tb}.attn.to_out.0", a) * mods[2]
        ctx = ctx + _lin(sd, f"{tb}.attn.to_add_out", ca) * cmods[2]
        ff = _lin(sd, f"{tb}.ff.net.2", F.gelu(_lin(sd, f"{tb}.ff.net.0.proj", ln(tokens) * (1 + mods[4]) + mods[3]),
                                                approximate="tanh"))
        cff = _lin(sd, f"{tb}.ff_context.net.2", F.gelu(_lin(sd, f"{tb}.ff_context.net.0.proj",
                                                                 ln(ctx) * (1 + cmods[4]) + cmods[3]), approximate="tanh"))
        tokens = tokens + mods[5] * ff
        ctx = ctx + cmods[5] * cff
        i += 1

    i = 0
    while f"single_transformer_blocks.{i}.norm.linear.weight" in sd:
        sb = f"single_transformer_blocks.{i}"
        hs = torch.cat([tokens, ctx], dim=1)
        shift, scale, gate = _lin(sd, f"{sb}.norm.linear", F.silu(temb)).unsqueeze(1).chunk(3, dim=-1)
        nh = ln(hs) * (1 + scale) + shift
        mlp = F.gelu(_lin(sd, f"{sb}.proj_mlp", nh), approximate="tanh")
        q, k_, v = (_lin(sd, f"{sb}.attn.{p}", nh).unflatten(2, (heads, -1)) for p in ("to_q", "to_k", "to_v"))
        q, k_ = _rms(q, sd[f"{sb}.attn.norm_q.weight"]), _rms(k_, sd[f"{sb}.attn.norm_k.weight"])
        q = torch.cat([_apply_rope(q[:, :-n_txt], freqs), q[:, -n_txt:]], dim=1)
        k_ = torch.cat([_apply_rope(k_[:, :-n_txt], freqs), k_[:, -n_txt:]], dim=1)
        a = _attention(q, k_, v)
        hs = hs + gate * _lin(sd, f"{sb}.proj_out", torch.cat([a, mlp], dim=2))
        tokens, ctx = hs[:, :-n_txt], hs[:, -n_txt:]
        i += 1

    scale, shift = _lin(sd, "norm_out.linear", F.silu(temb)).unsqueeze(1).chunk(2, dim=-1)
    tokens = ln(tokens) * (1 + scale) + shift
    tokens = _lin(sd, "proj_out", tokens[:, -n_video:])
    return tokens.view(1, t, hp, wp, 16, 1, 2, 2).permute(0, 4, 1, 5, 2, 6, 3, 7).reshape(1, 16, t, h, w)
