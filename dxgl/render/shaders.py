"""GLSL sources. Material features are compile-time ``#define``s (one program per feature set):
llvmpipe runs every branch of a uniform-controlled ``if`` for every pixel (RENDERING-NOTES.md).

All passes write premultiplied alpha into the supersampled target; the downsample pass averages
2x2 blocks and un-premultiplies, so frames leave the GPU as straight alpha.
"""

from __future__ import annotations

# Diffuse light from the environment's SH9 (environment.py's basis and order), evaluated per vertex
# and interpolated (diffuse light changes slowly with the normal, and llvmpipe pays for every
# per-pixel operation). Where a normal map bends normals per pixel, bands 0-1 are evaluated per
# pixel for the bent normal and band 2 (the smallest, and even) is taken from the vertex.
SH_GLSL = """
uniform vec3 u_sh[9];             // diffuse radiance for albedo 1, as SH9
uniform mat3 u_env_rot;
// Bands 0 and 1 (linear in the direction d, the environment's frame) and band 2 (quadratic: even,
// the same for d and -d) of the diffuse radiance.
vec3 sh_l01(vec3 d) {
    return u_sh[0] * 0.282095 + u_sh[1] * (0.488603 * d.y) + u_sh[2] * (0.488603 * d.z) + u_sh[3] * (0.488603 * d.x);
}
vec3 sh_l2(vec3 d) {
    return u_sh[4] * (1.092548 * d.x * d.y) + u_sh[5] * (1.092548 * d.y * d.z)
        + u_sh[6] * (0.315392 * (3.0 * d.z * d.z - 1.0))
        + u_sh[7] * (1.092548 * d.x * d.z) + u_sh[8] * (0.546274 * (d.x * d.x - d.y * d.y));
}
// Diffuse radiance for albedo 1 (irradiance / pi) around world normal n.
vec3 env_diffuse(vec3 n) {
    vec3 d = u_env_rot * n;
    return max(sh_l01(d) + sh_l2(d), vec3(0.0));
}
"""

MESH_VERT = (
    SH_GLSL
    + """
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
uniform float u_mirror;
varying vec3 v_world;
varying vec3 v_normal;
#ifdef NORMAL_TEX
varying vec3 v_irradiance_l2;     // band 2 of the diffuse light at the vertex normal (even: both sides)
#else
varying vec3 v_irradiance_front;  // env_diffuse of the normal, and of its opposite (back faces)
varying vec3 v_irradiance_back;
#endif
void main() {
    vec4 world = u_model * vec4(a_position, 1.0);
    v_world = world.xyz;
    v_normal = u_normal_matrix * a_normal;
    vec3 n = normalize(v_normal) * vec3(1.0, u_mirror, 1.0);
#ifdef NORMAL_TEX
    v_irradiance_l2 = sh_l2(u_env_rot * n);
#else
    v_irradiance_front = env_diffuse(n);
    v_irradiance_back = env_diffuse(-n);
#endif
#ifdef HAS_UV
    v_uv = a_uv;
#endif
#ifdef VERTEX_COLOR
    v_color = a_color;
#endif
    gl_Position = u_viewproj * world;
}
"""
)

# Image-based lighting: sampling the prefiltered environment (dxgl.render.environment). The
# equirect convention is environment.py's: u = 0.5 + atan(d.x, -d.z) / 2pi, v = acos(d.y) / pi.
# The environment's turn (environmentRotation, about +Y) is u_env_rot for the SH (SH_GLSL, which
# comes first) and, equivalently, a shift along u for the equirect levels.
ENV_GLSL = """
uniform sampler2D u_env_spec;     // SPECULAR_LEVELS equirect levels stacked top to bottom, RGBM
uniform float u_env_rgbm_range;   // RGBM: radiance = rgb * a * range
uniform float u_env_u_shift;      // environmentRotation / 360: the turn as a shift along u
uniform sampler2D u_env_lut;      // split-sum scale, bias; Charlie sheen albedo (row roughness, column n.v)
uniform float u_env_levels;
uniform float u_env_half_texel;   // half a texel of one level, in that level's v
const float INV_PI = 0.31830989;
const float INV_2PI = 0.15915494;
vec2 equirect_uv(vec3 d) {
    return vec2(0.5 + atan(d.x, -d.z) * INV_2PI, acos(clamp(d.y, -1.0, 1.0)) * INV_PI);
}
vec3 env_level(vec2 uv, float level) {
    float v = clamp(uv.y, u_env_half_texel, 1.0 - u_env_half_texel);
    vec4 rgbm = texture2D(u_env_spec, vec2(uv.x, (level + v) / u_env_levels));
    return rgbm.rgb * (rgbm.a * u_env_rgbm_range);
}
// Prefiltered radiance arriving along world direction dir, for a GGX lobe of this roughness.
// One fetch, not two mixed: each of the 2x2 supersamples of an output pixel rounds the fractional
// level at its own threshold (1/8, 3/8, 5/8, 7/8: an ordered dither), so the resolved pixel is the
// two levels' mix in quarter steps, for half the texture reads (llvmpipe pays per fetch).
vec3 env_specular(vec3 dir, float rough) {
    // The environment turns about +Y only: in the equirect that is a shift along u (no matrix).
    vec2 uv = equirect_uv(dir) + vec2(u_env_u_shift, 0.0);
    float lod = clamp(rough, 0.0, 1.0) * (u_env_levels - 1.0);
    vec2 cell = mod(floor(gl_FragCoord.xy), 2.0);
    float threshold = (cell.x * 2.0 + abs(cell.x - cell.y) + 0.5) * 0.25;
    return env_level(uv, min(floor(lod + 1.0 - threshold), u_env_levels - 1.0));
}
// (split-sum scale, bias, Charlie sheen albedo) for this n.v and roughness.
vec3 env_brdf(float ndv, float rough) {
    return texture2D(u_env_lut, vec2(clamp(ndv, 0.0, 1.0), clamp(rough, 0.0, 1.0))).rgb;
}
"""

# Shared by the mesh and background passes: exposure, then Khronos PBR Neutral tone mapping (it keeps
# base colours true up to the highlights: product shots; model-viewer uses it too), then sRGB.
TONEMAP_GLSL = """
uniform float u_exposure;         // linear factor: the look's base exposure times 2^EV
vec3 linear_to_srgb(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    return mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(0.0031308, c));
}
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
vec3 display(vec3 linear) {
    return linear_to_srgb(neutral_tonemap(linear * u_exposure));
}
"""

# Normal mapping, shared by the mesh and the dataset geometry passes: a cotangent frame from
# screen-space derivatives (no per-vertex tangents needed). n: the interpolated unit normal, p: the
# world position, mirror: -1.0 in the mirrored (reflection) pass, whose bitangent flips. Where the
# frame degenerates (no UV change across the pixel) the normal stays as it was.
NORMAL_MAP_GLSL = """
vec3 normal_mapped(vec3 n, vec3 p, vec2 uv, sampler2D normal_tex, float mirror) {
    vec3 dp1 = dFdx(p), dp2 = dFdy(p);
    vec2 duv1 = dFdx(uv), duv2 = dFdy(uv);
    vec3 dp2perp = cross(dp2, n), dp1perp = cross(n, dp1);
    vec3 t = dp2perp * duv1.x + dp1perp * duv2.x;
    vec3 b = dp2perp * duv1.y + dp1perp * duv2.y;
    float inv = inversesqrt(max(max(dot(t, t), dot(b, b)), 1e-20));
    vec3 tn = texture2D(normal_tex, uv).xyz * 2.0 - 1.0;
    vec3 mapped = normalize(t * inv * tn.x + b * inv * tn.y * mirror + n * tn.z);
    return all(equal(mapped, mapped)) ? mapped : n;
}
"""

MESH_FRAG = (
    SH_GLSL
    + ENV_GLSL
    + TONEMAP_GLSL
    + NORMAL_MAP_GLSL
    + """
varying vec3 v_world;
varying vec3 v_normal;
#ifdef HAS_UV
varying vec2 v_uv;
#endif
#ifdef VERTEX_COLOR
varying vec4 v_color;
#endif
#ifdef NORMAL_TEX
varying vec3 v_irradiance_l2;
#else
varying vec3 v_irradiance_front;
varying vec3 v_irradiance_back;
#endif
uniform vec4 u_base_color;
uniform float u_metallic;
uniform float u_roughness;
uniform vec3 u_emissive;      // emissiveFactor times KHR_materials_emissive_strength
uniform float u_alpha_cutoff;
// glTF material extensions (docs/rendering.md, "Materials"); scene.Material holds the factors.
uniform vec3 u_dielectric_f0; // KHR_materials_ior + _specular: min(((ior-1)/(ior+1))^2 * specularColor, 1) * specular
uniform float u_dielectric_f90; // KHR_materials_specular: specularFactor
uniform float u_clearcoat;
uniform float u_clearcoat_roughness;
uniform vec3 u_sheen_color;
uniform float u_sheen_roughness;
uniform float u_transmission;
uniform float u_ior;          // refraction's index (>= 1)
uniform float u_thick;        // 1.0: KHR_materials_volume thickness > 0 (bent as a sphere), 0.0: thin-walled
uniform vec3 u_attenuation;   // Beer-Lambert transmittance over the thickness: attenuationColor^(thickness / distance)
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

vec3 srgb_to_linear(vec3 c) {
    return mix(c / 12.92, pow((c + 0.055) / 1.055, vec3(2.4)), step(0.04045, c));
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
#ifdef UNLIT
    // KHR_materials_unlit: the base colour as it is (sRGB-encoded, no exposure or tone mapping),
    // so baked lighting shows its own pixel values.
    vec3 shown = linear_to_srgb(base.rgb);
#else
    float metal = u_metallic;
    float rough = u_roughness;
#ifdef MR_TEX
    vec4 mr = texture2D(u_mr_tex, v_uv);
    rough *= mr.g;
    metal *= mr.b;
#endif
    rough = clamp(rough, 0.03, 1.0);
    metal = clamp(metal, 0.0, 1.0);
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) n = -n;
    vec3 ng = n;  // the geometric normal: the clear coat ignores the base layer's normal map
#ifdef NORMAL_TEX
    n = normal_mapped(n, v_world, v_uv, u_normal_tex, u_mirror);
#endif
    vec3 v = normalize(u_eye - v_world);
    // The mirrored pass draws the model flipped under the floor; its normals and eye are mirrored
    // consistently, but the environment must be looked up in the unmirrored world.
    vec3 env_flip = vec3(1.0, u_mirror, 1.0);
    vec3 albedo = base.rgb;
    float ndv = max(dot(n, v), 1e-4);
    // Dielectric F0 / F90 from KHR_materials_ior and _specular (defaults: 0.04, 1); metals unchanged.
    vec3 f0 = mix(u_dielectric_f0, albedo, metal);
    float f90 = mix(u_dielectric_f90, 1.0, metal);

    // Split-sum image-based lighting with multiple-scattering energy compensation
    // (Fdez-Aguera 2019): rough metals keep their energy, and diffuse gets what specular leaves.
    vec3 lut = env_brdf(ndv, rough);
    vec3 fss_ess = f0 * lut.x + f90 * lut.y;
    float ess = lut.x + lut.y;
    float ems = 1.0 - ess;
    vec3 favg = f0 + (1.0 - f0) / 21.0;
    vec3 fms = fss_ess * favg / (1.0 - ems * favg);
#ifdef NORMAL_TEX
    vec3 irradiance = max(sh_l01(u_env_rot * (n * env_flip)) + v_irradiance_l2, vec3(0.0));
#else
    vec3 irradiance = gl_FrontFacing ? v_irradiance_front : v_irradiance_back;
#endif
    vec3 radiance = env_specular(reflect(-v, n) * env_flip, rough);
    vec3 scatter = fss_ess + fms * ems;
    vec3 diffuse_light = irradiance * albedo * (1.0 - metal) * (1.0 - max(scatter.r, max(scatter.g, scatter.b)));
#ifdef TRANSMISSION
    // KHR_materials_transmission (+ _volume), against the environment only: the view ray is refracted
    // into the surface (ior); thin-walled (thickness 0) it leaves unbent, thick it leaves a sphere
    // through the point where the refracted chord meets it again (exit normal reflect(n, t_in)),
    // bent a second time. The environment along that exit direction, blurred by the roughness scaled
    // for the ior, tinted by the base colour and the volume's Beer-Lambert transmittance, takes the
    // transmission factor's share of the diffuse part (what specular leaves: 1 - scatter).
    float eta = 1.0 / max(u_ior, 1.0);
    vec3 t_in = refract(-v, n, eta);
    vec3 n_exit = reflect(n, t_in);
    vec3 t_out = refract(t_in, -n_exit, 1.0 / eta);
    if (dot(t_out, t_out) < 1e-6) t_out = t_in;  // (a sphere has no total internal reflection: rounding)
    vec3 through = normalize(mix(-v, t_out, u_thick));
    float t_rough = clamp(rough * clamp(u_ior * 2.0 - 2.0, 0.0, 1.0), 0.0, 1.0);
    vec3 transmitted = env_specular(through * env_flip, t_rough) * albedo * u_attenuation * (1.0 - scatter)
        * (1.0 - metal);
    diffuse_light = mix(diffuse_light, transmitted, clamp(u_transmission, 0.0, 1.0));
#endif
    float occlusion = 1.0;
#ifdef OCCLUSION_TEX
    occlusion = texture2D(u_occ_tex, v_uv).r;
#endif
    vec3 color = (radiance * fss_ess + irradiance * fms * ems + diffuse_light) * occlusion;

    vec3 emissive = u_emissive;
#ifdef EMISSIVE_TEX
    emissive *= srgb_to_linear(texture2D(u_emissive_tex, v_uv).rgb);
#endif
#ifdef SHEEN
    // KHR_materials_sheen: a Charlie lobe over the base layer. Its light is the prefiltered
    // environment along the reflection at the sheen roughness (the GGX-filtered levels stand in for a
    // Charlie-filtered environment), times the directional albedo E (the LUT's third channel);
    // the base layer keeps 1 - max(sheenColor) * E.
    float sheen_rough = clamp(u_sheen_roughness, 0.03, 1.0);
    float sheen_e = env_brdf(ndv, sheen_rough).z;
    vec3 sheen_light = env_specular(reflect(-v, n) * env_flip, sheen_rough) * u_sheen_color * sheen_e * occlusion;
    color = color * (1.0 - max(u_sheen_color.r, max(u_sheen_color.g, u_sheen_color.b)) * sheen_e) + sheen_light;
#endif
#ifdef CLEARCOAT
    // KHR_materials_clearcoat: a second GGX lobe (F0 0.04) on the geometric normal; what lies
    // beneath it, emission included, keeps 1 - clearcoat * Fresnel(n.v).
    float cc_rough = clamp(u_clearcoat_roughness, 0.03, 1.0);
    float cc_ndv = max(dot(ng, v), 1e-4);
    vec3 cc_lut = env_brdf(cc_ndv, cc_rough);
    vec3 cc_light = env_specular(reflect(-v, ng) * env_flip, cc_rough) * (0.04 * cc_lut.x + cc_lut.y) * occlusion;
    float cc_fresnel = 0.04 + 0.96 * pow(1.0 - cc_ndv, 5.0);
    float cc_keep = 1.0 - u_clearcoat * cc_fresnel;
    color = color * cc_keep + cc_light * u_clearcoat;
    emissive *= cc_keep;
#endif
    color += emissive;
    vec3 shown = display(color);
#endif

    float alpha = mix(1.0, clamp(base.a, 0.0, 1.0), u_blend);
#ifdef REFLECTION
    // Mirrored copy under the ground: faint and fading with depth below the floor.
    alpha *= 0.35 * exp(-2.5 * max(-v_world.y, 0.0));
#endif
    gl_FragColor = vec4(shown * alpha, alpha);
}
"""
)

# showEnvironment: the environment as the background, one full-screen pass drawn first (opaque).
# u_inv_viewproj takes clip-space points back to world space to get each pixel's view ray.
BACKGROUND_VERT = """
attribute vec2 a_position;
varying vec2 v_ndc;
void main() {
    v_ndc = a_position;
    gl_Position = vec4(a_position, 0.0, 1.0);
}
"""

BACKGROUND_FRAG = (
    TONEMAP_GLSL
    + """
uniform sampler2D u_background;
uniform mat4 u_inv_viewproj;
uniform mat3 u_env_rot;
uniform vec3 u_eye;
varying vec2 v_ndc;
const float INV_PI = 0.31830989;
const float INV_2PI = 0.15915494;
void main() {
    vec4 far = u_inv_viewproj * vec4(v_ndc, 1.0, 1.0);
    vec3 d = normalize(u_env_rot * (far.xyz / far.w - u_eye));
    vec2 uv = vec2(0.5 + atan(d.x, -d.z) * INV_2PI, acos(clamp(d.y, -1.0, 1.0)) * INV_PI);
    gl_FragColor = vec4(display(texture2D(u_background, uv).rgb), 1.0);
}
"""
)

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
# With NORMAL_TEX (datasetNormals "shading") the material's normal map bends it, as in MESH_FRAG.
GEOMETRY_VERT = """
attribute vec3 a_position;
attribute vec3 a_normal;
#ifdef NORMAL_TEX
attribute vec2 a_uv;
varying vec2 v_uv;
#endif
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
#ifdef NORMAL_TEX
    v_uv = a_uv;
#endif
    gl_Position = u_proj * eye;
}
"""

GEOMETRY_FRAG = (
    NORMAL_MAP_GLSL
    + """
varying vec3 v_world;
varying vec3 v_normal;
varying float v_depth;
uniform vec3 u_eye;
#ifdef NORMAL_TEX
varying vec2 v_uv;
uniform sampler2D u_normal_tex;
#endif
void main() {
    vec3 dp1 = dFdx(v_world), dp2 = dFdy(v_world);
    vec3 g = cross(dp1, dp2);
    if (dot(g, u_eye - v_world) < 0.0) g = -g;
    vec3 n = normalize(v_normal);
    if (dot(n, g) < 0.0) n = -n;
#ifdef NORMAL_TEX
    n = normal_mapped(n, v_world, v_uv, u_normal_tex, 1.0);
#endif
    gl_FragColor = vec4(n, v_depth);
}
"""
)

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
