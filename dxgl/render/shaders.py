"""GLSL sources. Material features are compile-time ``#define``s (one program per feature set):
llvmpipe runs every branch of a uniform-controlled ``if`` for every pixel (RENDERING-NOTES.md).

All passes write premultiplied alpha into the supersampled target; the downsample pass averages
2x2 blocks and un-premultiplies, so frames leave the GPU as straight alpha.
"""

from __future__ import annotations

MESH_VERT = """
attribute vec3 a_position;
attribute vec3 a_normal;
#ifdef HAS_UV
attribute vec2 a_uv;
varying vec2 v_uv;
#endif
#ifdef VERTEX_COLOR
attribute vec4 a_color;
varying vec4 v_color;
#endif
uniform mat4 u_model;
uniform mat3 u_normal_matrix;
uniform mat4 u_viewproj;
varying vec3 v_world;
varying vec3 v_normal;
void main() {
    vec4 world = u_model * vec4(a_position, 1.0);
    v_world = world.xyz;
    v_normal = u_normal_matrix * a_normal;
#ifdef HAS_UV
    v_uv = a_uv;
#endif
#ifdef VERTEX_COLOR
    v_color = a_color;
#endif
    gl_Position = u_viewproj * world;
}
"""

MESH_FRAG = """
varying vec3 v_world;
varying vec3 v_normal;
#ifdef HAS_UV
varying vec2 v_uv;
#endif
#ifdef VERTEX_COLOR
varying vec4 v_color;
#endif
uniform vec4 u_base_color;
uniform float u_metallic;
uniform float u_roughness;
uniform vec3 u_emissive;
uniform float u_alpha_cutoff;
uniform float u_blend;        // 1.0 for alphaMode BLEND, else 0.0 (output alpha forced to 1)
uniform vec3 u_eye;
uniform float u_mirror;       // 1.0 normally, -1.0 for the mirrored (reflection) pass
#ifdef BASE_TEX
uniform sampler2D u_base_tex;
#endif
#ifdef MR_TEX
uniform sampler2D u_mr_tex;
#endif
#ifdef NORMAL_TEX
uniform sampler2D u_normal_tex;
#endif
#ifdef OCCLUSION_TEX
uniform sampler2D u_occ_tex;
#endif
#ifdef EMISSIVE_TEX
uniform sampler2D u_emissive_tex;
#endif

const float PI = 3.14159265;

vec3 srgb_to_linear(vec3 c) {
    return mix(c / 12.92, pow((c + 0.055) / 1.055, vec3(2.4)), step(0.04045, c));
}
vec3 linear_to_srgb(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    return mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(0.0031308, c));
}
// Khronos PBR Neutral tone mapping: keeps base colours true up to the highlights (product shots).
vec3 neutral_tonemap(vec3 color) {
    const float start = 0.8 - 0.04;
    const float desat = 0.15;
    float x = min(color.r, min(color.g, color.b));
    float offset = x < 0.08 ? x - 6.25 * x * x : 0.04;
    color -= offset;
    float peak = max(color.r, max(color.g, color.b));
    if (peak < start) return color;
    float d = 1.0 - start;
    float new_peak = 1.0 - d * d / (peak + d - start);
    color *= new_peak / peak;
    float g = 1.0 - 1.0 / (desat * (peak - new_peak) + 1.0);
    return mix(color, vec3(new_peak), g);
}
// Neutral studio environment: bright overhead softbox, grey horizon, dark floor.
vec3 studio_env(vec3 dir, float rough) {
    float up = dir.y;
    vec3 env = mix(vec3(0.18), vec3(0.95), smoothstep(-0.3 - rough, 0.6 + rough, up));
    float box = smoothstep(0.75 - 0.5 * rough, 0.95, up);
    return env + box * vec3(1.2) * (1.0 - 0.6 * rough);
}
vec3 light_contrib(vec3 n, vec3 v, vec3 l, vec3 radiance, vec3 albedo, float metal, float rough, vec3 f0) {
    vec3 h = normalize(v + l);
    float ndl = max(dot(n, l), 0.0);
    float ndv = max(dot(n, v), 1e-4);
    float ndh = max(dot(n, h), 0.0);
    float a = rough * rough;
    float a2 = a * a;
    float dd = ndh * ndh * (a2 - 1.0) + 1.0;
    float D = a2 / (PI * dd * dd);
    float k = (rough + 1.0) * (rough + 1.0) / 8.0;
    float G = (ndv / (ndv * (1.0 - k) + k)) * (ndl / (ndl * (1.0 - k) + k));
    vec3 F = f0 + (1.0 - f0) * pow(1.0 - max(dot(h, v), 0.0), 5.0);
    vec3 spec = D * G * F / (4.0 * ndv * max(ndl, 1e-4));
    vec3 kd = (1.0 - F) * (1.0 - metal);
    return (kd * albedo / PI + spec) * radiance * ndl;
}
void main() {
    vec4 base = u_base_color;
#ifdef BASE_TEX
    vec4 texel = texture2D(u_base_tex, v_uv);
    base *= vec4(srgb_to_linear(texel.rgb), texel.a);
#endif
#ifdef VERTEX_COLOR
    base *= v_color;
#endif
#ifdef ALPHA_MASK
    if (base.a < u_alpha_cutoff) discard;
#endif
    float metal = u_metallic;
    float rough = u_roughness;
#ifdef MR_TEX
    vec4 mr = texture2D(u_mr_tex, v_uv);
    rough *= mr.g;
    metal *= mr.b;
#endif
    rough = clamp(rough, 0.04, 1.0);
    metal = clamp(metal, 0.0, 1.0);
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) n = -n;
#ifdef NORMAL_TEX
    // Cotangent frame from screen-space derivatives: no per-vertex tangents needed.
    vec3 dp1 = dFdx(v_world), dp2 = dFdy(v_world);
    vec2 duv1 = dFdx(v_uv), duv2 = dFdy(v_uv);
    vec3 dp2perp = cross(dp2, n), dp1perp = cross(n, dp1);
    vec3 t = dp2perp * duv1.x + dp1perp * duv2.x;
    vec3 b = dp2perp * duv1.y + dp1perp * duv2.y;
    float inv = inversesqrt(max(max(dot(t, t), dot(b, b)), 1e-20));
    vec3 tn = texture2D(u_normal_tex, v_uv).xyz * 2.0 - 1.0;
    vec3 mapped = normalize(t * inv * tn.x + b * inv * tn.y * u_mirror + n * tn.z);
    if (all(equal(mapped, mapped))) n = mapped;
#endif
    vec3 v = normalize(u_eye - v_world);
    vec3 albedo = base.rgb;
    vec3 f0 = mix(vec3(0.04), albedo, metal);

    // Key (warm, upper left front), fill (cool, right), rim (behind, above): a neutral studio set.
    vec3 color = vec3(0.0);
    color += light_contrib(n, v, normalize(vec3(-0.55, 0.75, 0.65)), vec3(2.6, 2.5, 2.4), albedo, metal, rough, f0);
    color += light_contrib(n, v, normalize(vec3(0.8, 0.3, 0.5)), vec3(0.9, 0.95, 1.0), albedo, metal, rough, f0);
    color += light_contrib(n, v, normalize(vec3(0.1, 0.6, -0.9)), vec3(1.6), albedo, metal, rough, f0);

    float ndv = max(dot(n, v), 1e-4);
    // Karis' analytic approximation of the split-sum environment BRDF.
    vec4 c0 = vec4(-1.0, -0.0275, -0.572, 0.022);
    vec4 c1 = vec4(1.0, 0.0425, 1.04, -0.04);
    vec4 rr = rough * c0 + c1;
    float a004 = min(rr.x * rr.x, exp2(-9.28 * ndv)) * rr.x + rr.y;
    vec2 ab = vec2(-1.04, 1.04) * a004 + rr.zw;
    vec3 spec_ambient = studio_env(reflect(-v, n), rough) * (f0 * ab.x + ab.y);
    vec3 diff_ambient = studio_env(n, 1.0) * albedo * (1.0 - metal) * 0.55;
    float occlusion = 1.0;
#ifdef OCCLUSION_TEX
    occlusion = texture2D(u_occ_tex, v_uv).r;
#endif
    color += (diff_ambient + spec_ambient) * occlusion;

    vec3 emissive = u_emissive;
#ifdef EMISSIVE_TEX
    emissive *= srgb_to_linear(texture2D(u_emissive_tex, v_uv).rgb);
#endif
    color += emissive;

    float alpha = mix(1.0, clamp(base.a, 0.0, 1.0), u_blend);
#ifdef REFLECTION
    // Mirrored copy under the ground: faint and fading with depth below the floor.
    alpha *= 0.35 * exp(-2.5 * max(-v_world.y, 0.0));
#endif
    vec3 srgb = linear_to_srgb(neutral_tonemap(color));
    gl_FragColor = vec4(srgb * alpha, alpha);
}
"""

# Ground quad carrying the baked contact shadow: black with the shadow's opacity.
GROUND_VERT = """
attribute vec2 a_position;   // ground plane x, z in [-1, 1], scaled by u_extent
uniform mat4 u_model;
uniform mat4 u_viewproj;
uniform float u_extent;
varying vec2 v_uv;
void main() {
    v_uv = a_position * 0.5 + 0.5;
    gl_Position = u_viewproj * u_model * vec4(a_position.x * u_extent, 0.0, a_position.y * u_extent, 1.0);
}
"""

GROUND_FRAG = """
uniform sampler2D u_shadow;
uniform float u_strength;
varying vec2 v_uv;
void main() {
    float a = texture2D(u_shadow, v_uv).r * u_strength;
    gl_FragColor = vec4(0.0, 0.0, 0.0, a);
}
"""

# Shadow bake: orthographic view from below; each texel keeps the lowest surface's darkness.
BAKE_VERT = """
attribute vec3 a_position;
uniform mat4 u_model;
uniform float u_extent;
varying float v_height;
void main() {
    vec4 world = u_model * vec4(a_position, 1.0);
    v_height = world.y;
    // x -> x, z -> y of the bake image; depth = height so the lowest surface wins.
    gl_Position = vec4(world.x / u_extent, world.z / u_extent, clamp(world.y / 4.0, -1.0, 1.0) * 2.0 - 1.0, 1.0);
}
"""

BAKE_FRAG = """
varying float v_height;
uniform float u_falloff;
void main() {
    float dark = exp(-max(v_height, 0.0) / u_falloff);
    gl_FragColor = vec4(dark, dark, dark, 1.0);
}
"""

# Dataset geometry pass (one sample per pixel centre, no blending): rgb = dataset-space unit normal,
# a = z-depth (distance along the camera's view axis); cleared to 0 where no surface is.
# The interpolated vertex normal is turned to the camera's side of the triangle (whose geometric
# normal comes from screen-space derivatives), so inconsistent winding never flips it away.
GEOMETRY_VERT = """
attribute vec3 a_position;
attribute vec3 a_normal;
uniform mat4 u_model;
uniform mat3 u_normal_matrix;
uniform mat4 u_view;
uniform mat4 u_proj;
varying vec3 v_world;
varying vec3 v_normal;
varying float v_depth;
void main() {
    vec4 world = u_model * vec4(a_position, 1.0);
    vec4 eye = u_view * world;
    v_world = world.xyz;
    v_normal = u_normal_matrix * a_normal;
    v_depth = -eye.z;
    gl_Position = u_proj * eye;
}
"""

GEOMETRY_FRAG = """
varying vec3 v_world;
varying vec3 v_normal;
varying float v_depth;
uniform vec3 u_eye;
void main() {
    vec3 g = cross(dFdx(v_world), dFdy(v_world));
    if (dot(g, u_eye - v_world) < 0.0) g = -g;
    vec3 n = normalize(v_normal);
    if (dot(n, g) < 0.0) n = -n;
    gl_FragColor = vec4(n, v_depth);
}
"""

# 2x2 supersample resolve: one bilinear fetch at each block's centre averages its four texels;
# rows are flipped so glReadPixels returns the top row first; alpha is un-premultiplied.
RESOLVE_VERT = """
attribute vec2 a_position;
varying vec2 v_uv;
void main() {
    v_uv = vec2(a_position.x * 0.5 + 0.5, 0.5 - a_position.y * 0.5);
    gl_Position = vec4(a_position, 0.0, 1.0);
}
"""

RESOLVE_FRAG = """
uniform sampler2D u_source;
varying vec2 v_uv;
void main() {
    vec4 c = texture2D(u_source, v_uv);
    gl_FragColor = c.a > 0.0 ? vec4(clamp(c.rgb / c.a, 0.0, 1.0), c.a) : vec4(0.0);
}
"""


def with_defines(source: str, features: frozenset[str]) -> str:
    """Prefix ``source`` with one ``#define`` per feature (sorted, so equal sets give equal text)."""
    return "".join(f"#define {name}\n" for name in sorted(features)) + source
