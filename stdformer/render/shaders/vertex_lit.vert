#version 330 core
// Adapted from pyrender 0.1.45 shaders/mesh.vert and mesh.frag, Copyright (c) 2019 Matthew Matl,
// MIT License (LICENSE-pyrender.txt in this folder).
// pyrender's mesh.vert + mesh.frag (metallic-roughness BRDF, directional lights, ambient),
// evaluated once per vertex instead of once per pixel (Gouraud shading). On CPU OpenGL the
// per-pixel BRDF was ~80 % of a live view's draw time; a body mesh of ~1,700 vertices still
// shades smoothly. Only what the live views use: directional lights, base colour factor,
// vertex colours; no textures, point/spot lights or shadows (stdformer/render/gl_patches.py).
// Names that pyrender substitutes textually: NORMAL_LOC, COLOR_0_LOC, INST_M_LOC,
// MAX_DIRECTIONAL_LIGHTS; no other identifier may contain them.

layout(location = 0) in vec3 position;
#ifdef NORMAL_LOC
layout(location = NORMAL_LOC) in vec3 normal;
#endif
#ifdef COLOR_0_LOC
layout(location = COLOR_0_LOC) in vec4 color_0;
#endif
layout(location = INST_M_LOC) in mat4 inst_m;

struct DirectionalLight {
    vec3 color;
    float intensity;
    vec3 direction;
};

struct Material {
    vec3 emissive_factor;
    vec4 base_color_factor;
    float metallic_factor;
    float roughness_factor;
};

uniform mat4 M;
uniform mat4 V;
uniform mat4 P;
uniform Material material;
uniform DirectionalLight directional_lights[MAX_DIRECTIONAL_LIGHTS];
uniform int n_directional_lights;
uniform vec3 cam_pos;
uniform vec3 ambient_light;

out vec4 lit_color;

const float PI = 3.141592653589793;
const float min_roughness = 0.04;

vec3 brdf(vec3 n, vec3 v, vec3 l, float roughness, float metallic, vec3 f0, vec3 c_diff,
          vec3 radiance)
{
    vec3 h = normalize(l + v);
    float nl = clamp(dot(n, l), 0.001, 1.0);
    float nv = clamp(abs(dot(n, v)), 0.001, 1.0);
    float nh = clamp(dot(n, h), 0.0, 1.0);
    float vh = clamp(dot(v, h), 0.0, 1.0);
    vec3 F = f0 + (1.0 - f0) * pow(clamp(1.0 - vh, 0.0, 1.0), 5.0);  // Fresnel (Schlick)
    float r = roughness + 1.0;  // Smith geometric occlusion
    float k = r * r / 8.0;
    float G = (nv / (nv * (1.0 - k) + k)) * (nl / (nl * (1.0 - k) + k));
    float a = roughness * roughness;  // microfacet distribution (GGX)
    float a2 = a * a;
    float denom = nh * nh * (a2 - 1.0) + 1.0;
    float D = a2 / (PI * denom * denom);
    vec3 diffuse = (1.0 - F) * c_diff / PI;
    vec3 specular = F * G * D / (4.0 * nl * nv + 0.001);
    return nl * radiance * (diffuse + specular);
}

void main()
{
    mat4 model = M * inst_m;
    vec4 world = model * vec4(position, 1.0);
    gl_Position = P * V * world;

    float roughness = clamp(material.roughness_factor, min_roughness, 1.0);
    float metallic = clamp(material.metallic_factor, 0.0, 1.0);
    vec4 base_color = material.base_color_factor;
    vec3 c_diff = mix(vec3(0.0), base_color.rgb * (1.0 - min_roughness), 1.0 - metallic);
    vec3 f0 = mix(vec3(min_roughness), base_color.rgb, metallic);
    vec3 v = normalize(cam_pos - world.xyz);  // towards the camera
#ifdef NORMAL_LOC
    vec3 n = normalize(vec3(transpose(inverse(model)) * vec4(normal, 0.0)));
#else
    vec3 n = v;  // lines: lit as if facing the camera, like pyrender
#endif
    vec3 color = vec3(0.0);
    for (int i = 0; i < n_directional_lights; i++) {
        vec3 l = normalize(-directional_lights[i].direction);
        vec3 radiance = directional_lights[i].intensity * directional_lights[i].color;
        color += brdf(n, v, l, roughness, metallic, f0, c_diff, radiance);
    }
    color += base_color.rgb * ambient_light + material.emissive_factor * material.emissive_factor;
    float alpha = base_color.a;
#ifdef COLOR_0_LOC
    color *= color_0.rgb;
    alpha *= color_0.a;
#endif
    lit_color = clamp(vec4(pow(color, vec3(1.0 / 2.2)), alpha), 0.0, 1.0);
}
