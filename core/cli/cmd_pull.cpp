// allm pull REPO[@REVISION] [--include GLOB] [--exclude GLOB]: fetches a model
// from the Hugging Face hub into the HF cache (huggingface_hub's layout).
#include <unistd.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "allm/byte_size.hpp"
#include "allm/error.hpp"
#include "allm/hub/catalog.hpp"
#include "allm/hub/pull.hpp"
#include "command.hpp"
#include "pull_progress.hpp"

namespace allm::cli {

namespace {

using json = nlohmann::json;

int run_pull(Args& args) {
  hub::PullRequest req;
  req.include = args.values("include");
  req.exclude = args.values("exclude");
  if (auto j = args.integer("jobs")) {
    if (*j < 1 || *j > 64) throw InvalidArgumentError("--jobs must be between 1 and 64");
    req.jobs = static_cast<int>(*j);
  }
  if (auto s = args.integer("stall-timeout")) {
    if (*s < 1) throw InvalidArgumentError("--stall-timeout must be at least 1 second");
    req.stall_seconds = static_cast<int>(*s);
  }
  const bool as_json = args.flag("json");
  const bool quiet = args.flag("quiet");
  const std::string format = args.value("format").value_or(""), quant = args.value("quant").value_or("");
  auto pos = args.positionals();
  args.finish();
  if (pos.size() != 1) throw InvalidArgumentError("usage: allm pull REPO[@REVISION] [--include GLOB] [--exclude GLOB]");
  std::vector<std::string> notes;
  if (const auto* entry = pos[0].find('/') == std::string::npos ? hub::find_in_catalog(pos[0]) : nullptr) {
    // A catalog name: the repo (and GGUF file) of the variant picked.
    const hub::CatalogVariant& v = hub::pick_variant(*entry, format, quant);
    req.repo_id = v.repo;
    req.revision = "main";
    if (!v.file.empty() && req.include.empty()) req.include.push_back(v.file);
    notes.push_back(entry->name + ": " + v.format + " " + v.quant + " from " + v.repo +
                    (entry->gated ? " (gated: needs a token)" : ""));
  } else {
    if (!format.empty() || !quant.empty())
      throw InvalidArgumentError("--format/--quant pick a variant of a catalog model (allm models search); for a "
                                 "repo use --include GLOB");
    std::tie(req.repo_id, req.revision) = hub::parse_repo_spec(pos[0]);
  }
  if (!quiet)
    for (const auto& n : notes) std::cerr << n << "\n";

  const hub::HubSettings settings = hub::settings_from_environment();
  PullProgress progress(::isatty(STDERR_FILENO) == 1);
  hub::ProgressFn fn;
  if (!quiet) fn = [&](const hub::ProgressEvent& e) { progress(e); };
  const hub::PullResult res = hub::pull(req, settings, fn);
  if (!quiet) progress.finish();

  if (as_json) {
    json files = json::array();
    for (const auto& f : res.files)
      files.push_back({{"path", f.path}, {"size", f.size}, {"blob", f.etag}, {"downloaded", f.downloaded}});
    std::cout << json{{"repo", res.repo_id},          {"revision", res.revision},
                      {"commit", res.commit},         {"snapshot", res.snapshot.string()},
                      {"files", files},               {"bytes_downloaded", res.bytes_downloaded},
                      {"notes", res.notes}}
                     .dump(2)
              << "\n";
    return 0;
  }
  for (const auto& n : res.notes) std::cerr << "note: " << n << "\n";
  std::cout << res.repo_id << "@" << res.revision << " -> " << res.commit << "\n"
            << "  " << res.files.size() << " files, " << byte_size_text(res.bytes_downloaded) << " downloaded\n"
            << "  snapshot: " << res.snapshot.string() << "\n"
            << "  run it:   allm run " << res.repo_id << (res.revision == "main" ? "" : "@" + res.revision) << "\n";
  return 0;
}

}  // namespace

ALLM_CLI_COMMAND(pull, "Download a model from the Hugging Face hub into the HF cache",
                 "Usage: allm pull REPO[@REVISION] [--include GLOB]... [--exclude GLOB]... [--json]\n\n"
                 "Fetches org/name at REVISION (a branch, tag or commit; default main) from\n"
                 "$HF_ENDPOINT (default https://huggingface.co) into the Hugging Face cache\n"
                 "($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub), in the\n"
                 "layout huggingface_hub and transformers use. By default only what a model\n"
                 "needs: top-level config/tokenizer files and one weight format (safetensors,\n"
                 "else one GGUF file; Q4_K_M when a GGUF repo holds several).\n\n"
                 "REPO may also be a catalog name (allm models search): its GGUF Q4_K_M file\n"
                 "by default, or the variant --format gguf|safetensors|mlx --quant Q picks.\n\n"
                 "  --include GLOB       fetch the files matching GLOB instead of the default\n"
                 "                       weights (repeatable), e.g. --include '*Q8_0.gguf'\n"
                 "  --exclude GLOB       skip files matching GLOB (repeatable)\n"
                 "  --jobs N             files downloaded at once (default 4)\n"
                 "  --stall-timeout S    retry a connection that sent nothing for S seconds (30)\n"
                 "  --quiet              no progress output\n"
                 "  --json               print the result as JSON\n\n"
                 "An interrupted download resumes from its .incomplete part; LFS files are\n"
                 "checked against their sha256. A gated or private repo needs a token:\n"
                 "$HF_TOKEN, the file $HF_TOKEN_PATH, or $HF_HOME/token. With\n"
                 "HF_HUB_OFFLINE=1 nothing is fetched: the cached snapshot is reported.\n"
                 "See docs/models.md.",
                 run_pull)

}  // namespace allm::cli
