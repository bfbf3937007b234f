// Choosing the compute backend among the registered ones (allm/backend.hpp).
#include <algorithm>
#include <string>

#include "allm/backend.hpp"
#include "allm/error.hpp"
#include "allm/registry.hpp"

namespace allm {

std::vector<BackendStatus> list_backends() {
  std::vector<BackendStatus> out;
  for (const auto& e : Registry::instance().list(ALLM_KIND_BACKEND)) {
    BackendStatus s;
    s.name = e.name;
    s.plugin = e.plugin;
    try {
      s.probe = static_cast<const BackendFactory*>(e.impl)->probe();
    } catch (const std::exception& ex) {
      s.probe = {0, std::string("probe failed: ") + ex.what()};
    }
    if (s.probe.score < 0) s.probe.score = 0;
    out.push_back(std::move(s));
  }
  std::stable_sort(out.begin(), out.end(), [](const BackendStatus& a, const BackendStatus& b) {
    return a.probe.score != b.probe.score ? a.probe.score > b.probe.score : a.name < b.name;
  });
  return out;
}

namespace {

// "cpu (score 10: avx512, 2 threads), cuda (unusable: no CUDA device)"
std::string describe(const std::vector<BackendStatus>& all) {
  std::string text;
  for (const auto& s : all) {
    if (!text.empty()) text += ", ";
    text += s.name + (s.probe.score > 0 ? " (score " + std::to_string(s.probe.score) : " (unusable") +
            (s.probe.reason.empty() ? "" : ": " + s.probe.reason) + ")";
  }
  return text.empty() ? "none" : text;
}

}  // namespace

std::shared_ptr<Backend> create_backend(const std::string& name, int threads) {
  const auto all = list_backends();
  if (all.empty() && name.empty()) return nullptr;
  const BackendStatus* pick = nullptr;
  if (name.empty()) {
    if (all.front().probe.score <= 0)
      throw UnsupportedError("no usable compute backend; installed: " + describe(all));
    pick = &all.front();
  } else {
    for (const auto& s : all)
      if (s.name == name) pick = &s;
    if (!pick) throw InvalidArgumentError("backend '" + name + "' is not installed; available: " + describe(all));
    if (pick->probe.score <= 0)
      throw UnsupportedError("backend '" + name + "' cannot run here: " + pick->probe.reason +
                             "; available: " + describe(all));
  }
  auto* factory = Registry::instance().backend(pick->name);
  auto backend = factory->create(threads);
  if (!backend) throw Error(ErrorCode::internal, "backend '" + pick->name + "' created nothing");
  return backend;
}

}  // namespace allm
