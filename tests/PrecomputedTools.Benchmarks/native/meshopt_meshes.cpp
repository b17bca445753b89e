// Our harness around meshoptimizer's public API (meshopt_simplify), for the `simplify` benchmark
// section: it reads the meshes the C# side wrote, simplifies each to 1/10 of its triangles (the
// target zmesh_bench uses) at every absolute error bound given, and writes the results back, so
// both simplifiers work on exactly the same meshes and are measured by the same Hausdorff code.
//
// File format (little-endian), in and out: uint32 mesh count; per mesh uint32 vertex count,
// uint32 triangle count, float xyz per vertex, uint32 index triple per triangle.
// Build: g++ -O3 -march=native -std=c++17 -I<meshoptimizer>/src meshopt_meshes.cpp <meshoptimizer>/src/*.cpp
// Usage: meshopt_meshes IN OUT_PREFIX ERROR...   writes OUT_PREFIX<error>.bin, prints one line per error.
#include "meshoptimizer.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

struct Mesh { std::vector<float> pos; std::vector<uint32_t> idx; };

static double cpu_now() {
  timespec ts; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint32_t read_u32(FILE* f) {
  uint32_t v;
  if (fread(&v, 4, 1, f) != 1) { fprintf(stderr, "short read\n"); exit(1); }
  return v;
}

int main(int argc, char** argv) {
  if (argc < 4) { fprintf(stderr, "usage: %s IN OUT_PREFIX ERROR...\n", argv[0]); return 2; }
  FILE* f = fopen(argv[1], "rb");
  if (!f) { perror(argv[1]); return 1; }
  std::vector<Mesh> meshes(read_u32(f));
  for (Mesh& m : meshes) {
    uint32_t nv = read_u32(f), nt = read_u32(f);
    m.pos.resize(3 * (size_t)nv);
    m.idx.resize(3 * (size_t)nt);
    if (fread(m.pos.data(), 4, m.pos.size(), f) != m.pos.size() || fread(m.idx.data(), 4, m.idx.size(), f) != m.idx.size()) { fprintf(stderr, "short read\n"); return 1; }
  }
  fclose(f);
  for (int a = 3; a < argc; a++) {
    float error = strtof(argv[a], nullptr);
    std::vector<std::vector<uint32_t>> out(meshes.size());
    size_t before = 0, after = 0;
    double c0 = cpu_now();
    for (size_t i = 0; i < meshes.size(); i++) {
      const Mesh& m = meshes[i];
      out[i].resize(m.idx.size());
      size_t n = meshopt_simplify(out[i].data(), m.idx.data(), m.idx.size(), m.pos.data(), m.pos.size() / 3, 12,
                                  m.idx.size() / 10 / 3 * 3, error, meshopt_SimplifyErrorAbsolute, nullptr);
      out[i].resize(n);
      before += m.idx.size() / 3;
      after += n / 3;
    }
    double cpu = cpu_now() - c0;
    std::string path = std::string(argv[2]) + argv[a] + ".bin";
    FILE* o = fopen(path.c_str(), "wb");
    if (!o) { perror(path.c_str()); return 1; }
    uint32_t count = (uint32_t)meshes.size();
    fwrite(&count, 4, 1, o);
    for (size_t i = 0; i < meshes.size(); i++) {
      uint32_t nv = (uint32_t)(meshes[i].pos.size() / 3), nt = (uint32_t)(out[i].size() / 3);
      fwrite(&nv, 4, 1, o);
      fwrite(&nt, 4, 1, o);
      fwrite(meshes[i].pos.data(), 4, meshes[i].pos.size(), o);
      fwrite(out[i].data(), 4, out[i].size(), o);
    }
    fclose(o);
    printf("error %s cpu %.4f before %zu after %zu\n", argv[a], cpu, before, after);
  }
  return 0;
}
