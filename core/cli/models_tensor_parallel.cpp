// allm models show --tensor-parallel N: the plan's bytes per device.
#include "models_tensor_parallel.hpp"

#include <iomanip>
#include <sstream>

#include "allm/byte_size.hpp"
#include "allm/engine.hpp"
#include "allm/error.hpp"
#include "allm/tensor_parallel.hpp"

namespace allm::cli {

namespace {

using json = nlohmann::json;

std::string range_text(const json& r) {
  std::ostringstream os;
  os << "[" << r[0].get<int64_t>() << ", " << r[1].get<int64_t>() << ")";
  return os.str();
}

}  // namespace

json tensor_parallel_report(const Checkpoint& ck, const std::string& model, int ranks, int64_t context, KVType kv_type,
                            std::optional<uint64_t> device_memory) {
  if (ranks < 1 || ranks > 1024)
    throw InvalidArgumentError("--tensor-parallel must be between 1 and 1024, got " + std::to_string(ranks));
  // The architecture's own binding (its tensor names, shapes and formats), nothing built.
  const DecoderDescription d = describe_decoder(ck);
  TensorParallelPlan plan;
  try {
    plan = plan_tensor_parallel(d.spec, d.weights, ranks);
  } catch (const InvalidArgumentError& e) {
    throw InvalidArgumentError(model + ": " + e.what());
  }
  const int64_t row = kv_row_bytes(kv_type, d.spec.head_dim);
  json per_rank = json::array();
  bool all_fit = true;
  for (const RankShards& r : plan.ranks) {
    // kv_values_per_position counts head_dim values per kv head, key and value, every layer.
    const uint64_t kv_per_position =
        static_cast<uint64_t>(r.kv_values_per_position / d.spec.head_dim) * static_cast<uint64_t>(row);
    const uint64_t kv = kv_per_position * static_cast<uint64_t>(context);
    json j = {{"rank", r.rank},
              {"q_heads", {r.q_heads.begin, r.q_heads.end}},
              {"kv_heads", {r.kv_heads.begin, r.kv_heads.end}},
              {"vocab", {r.vocab.begin, r.vocab.end}},
              {"weight_bytes", r.weight_bytes},
              {"kv_bytes_per_position", kv_per_position},
              {"kv_cache_bytes", kv},
              {"required_bytes", r.weight_bytes + kv}};
    if (r.intermediate.size() > 0) j["intermediate"] = {r.intermediate.begin, r.intermediate.end};
    if (d.spec.moe.experts > 0) j["experts"] = {r.experts.begin, r.experts.end};
    if (device_memory) {
      j["fits"] = r.weight_bytes + kv <= *device_memory;
      all_fit = all_fit && j["fits"].get<bool>();
    }
    per_rank.push_back(std::move(j));
  }
  int64_t reduces = 0, reduce_values = 0, gather_values = 0;
  for (const CollectivePoint& c : plan.collectives) {
    if (c.op == Collective::all_reduce_sum) ++reduces, reduce_values += c.values_per_token;
    else gather_values += c.values_per_token;
  }
  json out = {{"ranks", ranks},
              {"kv_type", kv_type_name(kv_type)},
              {"context_length", context},
              {"per_rank", per_rank},
              {"collectives",
               {{"all_reduces_per_token", reduces},
                {"all_reduce_values_per_token", reduce_values},
                {"all_gather_values_per_rank_per_token", gather_values}}},
              {"executed", false}};
  if (device_memory) {
    out["device_memory_bytes"] = *device_memory;
    out["fits"] = all_fit;
  }
  return out;
}

void print_tensor_parallel(const json& r, std::ostream& out) {
  const int ranks = r["ranks"].get<int>();
  out << "Tensor parallel: " << ranks << (ranks == 1 ? " device" : " devices") << " (the plan: allm does not run a model"
      << " over several GPUs yet)\n";
  for (const json& p : r["per_rank"]) {
    out << "  rank " << p["rank"].get<int>() << ": weights " << byte_size_text(p["weight_bytes"].get<uint64_t>(), 2) << ", KV "
        << p["kv_bytes_per_position"].get<uint64_t>() << " bytes per position (" << r["kv_type"].get<std::string>()
        << ") = " << byte_size_text(p["kv_cache_bytes"].get<uint64_t>(), 2) << " for " << r["context_length"].get<int64_t>()
        << " tokens; needs " << byte_size_text(p["required_bytes"].get<uint64_t>(), 2);
    if (p.contains("fits")) out << (p["fits"].get<bool>() ? " (fits)" : " (does NOT fit)");
    out << "\n          query heads " << range_text(p["q_heads"]) << ", kv heads " << range_text(p["kv_heads"]);
    if (p.contains("intermediate")) out << ", MLP columns " << range_text(p["intermediate"]);
    if (p.contains("experts")) out << ", experts " << range_text(p["experts"]);
    out << ", vocabulary " << range_text(p["vocab"]) << "\n";
  }
  const json& c = r["collectives"];
  if (ranks > 1)
    out << "  per token: " << c["all_reduces_per_token"].get<int64_t>() << " all-reduces ("
        << c["all_reduce_values_per_token"].get<int64_t>() << " F32 values), one all-gather of "
        << c["all_gather_values_per_rank_per_token"].get<int64_t>() << " logits per rank\n";
  if (r.contains("fits"))
    out << "  " << (r["fits"].get<bool>() ? "Fits" : "Does NOT fit") << " in " << byte_size_text(r["device_memory_bytes"].get<uint64_t>(), 2)
        << " per device (weights + KV cache; activations and the runtime's own buffers come on top)\n";
}

}  // namespace allm::cli
