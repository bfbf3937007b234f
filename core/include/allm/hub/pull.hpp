#pragma once
// Downloading models from a Hugging Face hub (huggingface.co or any server
// speaking its protocol at $HF_ENDPOINT) into the HF cache, in the same layout
// huggingface_hub writes: models--org--name/{blobs/<etag>, refs/<revision>,
// snapshots/<commit>/<file> -> ../../blobs/<etag>}. docs/models.md.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace allm::hub {

// What the environment says about the hub (read once per pull).
struct HubSettings {
  std::string endpoint;                 // $HF_ENDPOINT, else https://huggingface.co (no trailing '/')
  std::optional<std::string> token;     // $HF_TOKEN, else the file $HF_TOKEN_PATH, else $HF_HOME/token
  std::string token_source;             // where the token came from (never the token itself)
  bool offline = false;                 // $HF_HUB_OFFLINE is 1/true/yes/on
  std::filesystem::path cache_dir;      // hf_hub_cache_dir()
};
HubSettings settings_from_environment();

struct PullRequest {
  std::string repo_id;   // "org/name"
  std::string revision;  // branch, tag or commit ("main" when empty)
  std::vector<std::string> include, exclude;  // fnmatch globs over repo paths
  int jobs = 4;                               // files downloaded at once
  int stall_seconds = 30;                     // no byte for this long: the connection is retried
  int retries = 5;                            // per file, after a cut or stalled connection
};

// One file of the snapshot, as selected and then fetched.
struct PulledFile {
  std::string path;       // inside the repo ("config.json", "sub/x.safetensors")
  uint64_t size = 0;
  std::string etag;       // the blob's name
  bool downloaded = false;  // false: the blob was already in the cache
};

struct PullResult {
  std::string repo_id, revision, commit;
  std::filesystem::path repo_dir, snapshot;
  std::vector<PulledFile> files;
  uint64_t bytes_downloaded = 0;
  std::vector<std::string> notes;  // choices made for the user (e.g. which GGUF was picked)
};

// Progress events, from several download threads (calls are serialised).
struct ProgressEvent {
  enum Kind { plan, file_start, bytes, file_done, retry, waiting_for_lock } kind;
  std::string path;
  uint64_t done = 0, total = 0;  // of this file (bytes) or of the pull (plan)
  std::string message;
};
using ProgressFn = std::function<void(const ProgressEvent&)>;

// Pulls `request` into settings.cache_dir. Throws IoError (network, disk,
// checksum), ModelLoadError (no such repo/revision/file, needs a token),
// InvalidArgumentError (bad repo id or glob selection).
PullResult pull(const PullRequest& request, const HubSettings& settings, const ProgressFn& progress = {});

// ---- File selection (exposed for tests and `allm pull --dry-run`) -----------
// huggingface_hub's fnmatch: '*' and '?' match any character including '/',
// [...] a set; a pattern ending in '/' matches everything under it.
bool glob_match(const std::string& pattern, const std::string& path);
struct Selection {
  std::vector<std::string> files;
  std::vector<std::string> notes;
};
// The files a model needs: top-level config/tokenizer files and the weights
// of one format (safetensors, else one GGUF: Q4_K_M when there are several and
// no --include picks one). `include` replaces the weight choice; `exclude`
// removes from the result.
Selection select_files(const std::vector<std::string>& repo_files, const std::vector<std::string>& include,
                       const std::vector<std::string>& exclude);

// "org/name[@revision]" -> repo id and revision; InvalidArgumentError otherwise.
std::pair<std::string, std::string> parse_repo_spec(const std::string& spec);

// Folder of a repo in the cache: "org/name" -> "models--org--name".
std::string repo_folder_name(const std::string& repo_id);

}  // namespace allm::hub
