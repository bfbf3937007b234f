// `allm pull`: repo info and tree from the hub API, then each file through
// /resolve/ (HEAD for its ETag, commit and size; GET of where it points, with
// a Range request to resume a .incomplete part), checked against its sha256,
// moved into blobs/ and linked from snapshots/<commit>/ — huggingface_hub's
// layout and its lock files, so either tool reuses what the other fetched.
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "allm/byte_size.hpp"
#include "allm/error.hpp"
#include "allm/hub/pull.hpp"
#include "allm/json_depth.hpp"
#include "hub_http.hpp"

namespace allm::hub {

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;


bool is_hex(const std::string& s, size_t len) {
  return s.size() == len && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// W/"abc" or "abc" -> abc (huggingface_hub's _normalize_etag).
std::string normalize_etag(std::string e) {
  if (e.rfind("W/", 0) == 0) e = e.substr(2);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return e;
}

// An exclusive flock on `path`; tells `on_wait` when another process holds it.
class FileLock {
 public:
  FileLock(const fs::path& path, const std::function<void()>& on_wait) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw IoError(path.string() + ": cannot open lock file: " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
    if (on_wait) on_wait();
    while (::flock(fd_, LOCK_EX) != 0)
      if (errno != EINTR) throw IoError(path.string() + ": cannot lock: " + std::strerror(errno));
  }
  ~FileLock() { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { reset(); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  void reset() { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  void update(const char* d, size_t n) { EVP_DigestUpdate(ctx_, d, n); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, md, &n);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < n; ++i) out += digits[md[i] >> 4], out += digits[md[i] & 15];
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

struct Context {
  const PullRequest& req;
  const HubSettings& hub;
  fs::path repo_dir, locks_dir;
  std::string hub_url;  // page of the repo on the hub, for messages
  std::mutex progress_mutex;
  const ProgressFn& progress_fn;
  void progress(const ProgressEvent& e) {
    if (!progress_fn) return;
    std::lock_guard<std::mutex> lock(progress_mutex);
    progress_fn(e);
  }
};

[[noreturn]] void throw_needs_token(const Context& c) {
  throw ModelLoadError(c.req.repo_id + " needs a token: it is gated or private. Accept its terms at " + c.hub_url +
                       ", create a token at " + c.hub.endpoint +
                       "/settings/tokens and set HF_TOKEN (or write it to $HF_HOME/token)");
}

[[noreturn]] void throw_http(const Context& c, const HttpResponse& r, const std::string& what) {
  const auto header = [&](const char* n) {
    auto it = r.headers.find(n);
    return it == r.headers.end() ? std::string() : it->second;
  };
  const std::string code = header("x-error-code"), message = header("x-error-message");
  if (code == "GatedRepo" || ((r.status == 401 || r.status == 403) && code.empty())) {
    if (!c.hub.token) throw_needs_token(c);
    throw ModelLoadError("the token from " + c.hub.token_source + " has no access to " + c.req.repo_id +
                         " (HTTP " + std::to_string(r.status) + "): accept its terms at " + c.hub_url);
  }
  if (code == "RepoNotFound" || (r.status == 401 && !c.hub.token))
    throw ModelLoadError("repo " + c.req.repo_id + " not found on " + c.hub.endpoint +
                         (c.hub.token ? "" : " (if it is private, it needs a token: set HF_TOKEN)"));
  if (code == "RevisionNotFound")
    throw ModelLoadError("revision '" + c.req.revision + "' not found in " + c.req.repo_id + " on " + c.hub.endpoint);
  if (code == "EntryNotFound") throw ModelLoadError(what + ": not found in " + c.req.repo_id);
  throw IoError(what + ": HTTP " + std::to_string(r.status) + " from " + r.url +
                (message.empty() ? std::string() : " (" + message + ")"));
}

[[noreturn]] void throw_transport(const Context& c, const TransportError& e, const std::string& url) {
  throw IoError("cannot reach the Hugging Face hub at " + c.hub.endpoint + " (" + url + "): " + e.message +
                "; check HF_ENDPOINT and the network, or set HF_HUB_OFFLINE=1 to use only the cache");
}

HttpResponse get_json(Context& c, HttpClient& http, const std::string& url, const std::string& what) {
  TransportError err;
  auto r = http.perform({url, false, true, 0, {}}, err);
  if (!r) throw_transport(c, err, url);
  if (r->status != 200) throw_http(c, *r, what);
  return *r;
}

json parse_json(const HttpResponse& r) {
  if (std::string depth = json_depth_error(r.body); !depth.empty())
    throw IoError(r.url + ": the hub answered " + depth);
  try {
    return json::parse(r.body);
  } catch (const json::exception& e) {
    throw IoError(r.url + ": the hub answered something that is not JSON (" + e.what() + ")");
  }
}

struct TreeEntry {
  uint64_t size = 0;
  std::string oid, lfs_sha256;
};

// /tree/ (recursive, following the Link: rel="next" pages): sizes and LFS sha256.
std::map<std::string, TreeEntry> fetch_tree(Context& c, HttpClient& http, const std::string& commit) {
  std::map<std::string, TreeEntry> out;
  std::string url = c.hub.endpoint + "/api/models/" + c.req.repo_id + "/tree/" + url_encode(commit, false) +
                    "?recursive=true&expand=false";
  for (int page = 0; !url.empty() && page < 1000; ++page) {
    TransportError err;
    auto resp = http.perform({url, false, true, 0, {}}, err);
    if (!resp) throw_transport(c, err, url);
    // A mirror without the tree API: sizes come from HEAD, sha256 from X-Linked-Etag.
    if (resp->status == 404 && page == 0 && resp->headers.count("x-error-code") == 0) return out;
    if (resp->status != 200) throw_http(c, *resp, c.req.repo_id + " file tree");
    const HttpResponse& r = *resp;
    const json j = parse_json(r);
    if (!j.is_array()) throw IoError(url + ": the file tree is not a JSON array");
    try {
      for (const auto& e : j) {
        if (e.value("type", "") != "file") continue;
        TreeEntry t;
        t.size = e.value("size", uint64_t{0});
        t.oid = e.value("oid", "");
        if (e.contains("lfs") && e["lfs"].is_object()) t.lfs_sha256 = e["lfs"].value("oid", "");
        out[e.value("path", "")] = t;
      }
    } catch (const json::exception& e) {
      throw IoError(url + ": unexpected file tree entry (" + e.what() + ")");
    }
    url.clear();
    if (auto it = r.headers.find("link"); it != r.headers.end()) {
      const std::string& link = it->second;
      if (const size_t next = link.find("rel=\"next\""); next != std::string::npos) {
        const size_t open = link.rfind('<', next), close = link.find('>', open);
        if (open != std::string::npos && close != std::string::npos) url = link.substr(open + 1, close - open - 1);
      }
    }
  }
  return out;
}

// What HEAD /resolve/ says about one file.
struct FileMeta {
  std::string path, etag, commit, download_url, sha256;
  uint64_t size = 0;
};

FileMeta resolve_file(Context& c, HttpClient& http, const std::string& commit, const std::string& path,
                      const std::map<std::string, TreeEntry>& tree) {
  std::string url = c.hub.endpoint + "/" + c.req.repo_id + "/resolve/" + url_encode(commit, false) + "/" +
                    url_encode(path, true);
  for (int hop = 0; hop < 6; ++hop) {
    TransportError err;
    auto r = http.perform({url, true, false, 0, {}}, err);
    if (!r) throw_transport(c, err, url);
    const auto h = [&](const char* n) {
      auto it = r->headers.find(n);
      return it == r->headers.end() ? std::string() : it->second;
    };
    const std::string location = h("location");
    // Relative redirects (a renamed repo) are followed for metadata; an absolute
    // one points at the file's bytes (a CDN), and this response carries the metadata.
    if (r->status >= 300 && r->status < 400 && location.rfind("/", 0) == 0) {
      url = url_origin(url) + location;
      continue;
    }
    if (r->status >= 400) throw_http(c, *r, path);
    FileMeta m;
    m.path = path;
    m.etag = normalize_etag(!h("x-linked-etag").empty() ? h("x-linked-etag") : h("etag"));
    m.commit = h("x-repo-commit");
    const std::string size = !h("x-linked-size").empty() ? h("x-linked-size") : h("content-length");
    try {
      m.size = size.empty() ? 0 : std::stoull(size);
    } catch (const std::exception&) {
      throw IoError(url + ": bad size header '" + size + "'");
    }
    if (m.etag.empty())
      throw IoError(url + ": the server sent no ETag for " + path + " (is " + c.hub.endpoint + " a Hugging Face hub?)");
    if (m.etag.find('/') != std::string::npos || m.etag.find("..") != std::string::npos)
      throw IoError(url + ": unusable ETag '" + m.etag + "'");
    m.download_url = (r->status >= 300 && !location.empty()) ? location : url;
    if (auto t = tree.find(path); t != tree.end() && !t->second.lfs_sha256.empty())
      m.sha256 = t->second.lfs_sha256;
    else if (!h("x-linked-etag").empty() && is_hex(m.etag, 64))
      m.sha256 = m.etag;  // an LFS file's ETag is its sha256
    if (m.size == 0)
      if (auto t = tree.find(path); t != tree.end()) m.size = t->second.size;
    return m;
  }
  throw IoError(url + ": too many redirects");
}

uint64_t file_size_or_zero(const fs::path& p) {
  std::error_code ec;
  const auto s = fs::file_size(p, ec);
  return ec ? 0 : s;
}

void link_into_snapshot(const fs::path& repo_dir, const std::string& commit, const FileMeta& m) {
  const fs::path link = repo_dir / "snapshots" / commit / m.path;
  std::error_code ec;
  fs::create_directories(link.parent_path(), ec);
  const fs::path target = (repo_dir / "blobs" / m.etag).lexically_relative(link.parent_path());
  fs::remove(link, ec);
  fs::create_symlink(target, link, ec);
  if (ec) throw IoError(link.string() + ": cannot create the link to " + target.string() + ": " + ec.message());
}

// Downloads one blob (resuming its .incomplete part) and links it. Returns bytes fetched.
uint64_t fetch_blob(Context& c, HttpClient& http, const FileMeta& m, const std::atomic<bool>& abort) {
  const fs::path blob = c.repo_dir / "blobs" / m.etag;
  std::error_code ec;
  if (fs::exists(blob, ec)) return 0;
  FileLock lock(c.locks_dir / (m.etag + ".lock"), {});
  if (fs::exists(blob, ec)) return 0;  // another process finished it while we waited
  fs::create_directories(blob.parent_path(), ec);
  const fs::path part = blob.string() + ".incomplete";
  const int fd = ::open(part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(part.string() + ": cannot open: " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};

  uint64_t offset = file_size_or_zero(part);
  if (m.size && offset > m.size) {
    if (::ftruncate(fd, 0) != 0) throw IoError(part.string() + ": cannot truncate");
    offset = 0;
  }
  Sha256 sha;
  if (offset > 0 && !m.sha256.empty()) {  // hash the part already on disk
    std::ifstream in(part, std::ios::binary);
    std::vector<char> buf(1 << 20);
    uint64_t left = offset;
    while (left > 0 && in.read(buf.data(), static_cast<std::streamsize>(std::min<uint64_t>(left, buf.size()))))
      sha.update(buf.data(), static_cast<size_t>(in.gcount())), left -= static_cast<uint64_t>(in.gcount());
  }
  if (::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) throw IoError(part.string() + ": cannot seek");
  const uint64_t resumed_from = offset;
  c.progress({ProgressEvent::file_start, m.path, offset, m.size, resumed_from ? "resuming" : ""});

  uint64_t fetched = 0;
  std::string write_error;
  for (int attempt = 0;; ++attempt) {
    if (m.size && offset == m.size) break;
    const uint64_t asked_from = offset;
    bool first = true;
    HttpClient::Sink sink = [&](const char* d, size_t n, long status) {
      if (abort.load()) return false;
      if (first) {
        first = false;
        if (status == 200 && asked_from > 0) {  // the server ignored Range: start over
          if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) < 0) {
            write_error = std::strerror(errno);
            return false;
          }
          offset = 0;
          sha.reset();
        }
      }
      for (size_t done = 0; done < n;) {
        const ssize_t w = ::write(fd, d + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          write_error = std::strerror(errno);
          return false;
        }
        done += static_cast<size_t>(w);
      }
      if (!m.sha256.empty()) sha.update(d, n);
      offset += n;
      fetched += n;
      c.progress({ProgressEvent::bytes, m.path, offset, m.size, ""});
      return true;
    };
    TransportError err;
    auto r = http.perform({m.download_url, false, true, offset, sink}, err);
    if (abort.load()) return fetched;
    if (!write_error.empty()) throw IoError(part.string() + ": cannot write: " + write_error);
    if (r && r->status == 416 && m.size && offset == m.size) break;
    if (r && r->status >= 400) throw_http(c, *r, m.path);
    if (r && (!m.size || offset == m.size)) break;
    // Cut, stalled, or closed early: try again from where the part ends.
    const std::string why = r ? "the connection closed at " + byte_size_text(offset) + " of " + byte_size_text(m.size)
                              : err.message;
    if (attempt >= c.req.retries)
      throw IoError(m.path + ": download failed after " + std::to_string(attempt + 1) + " attempts: " + why +
                    " (" + m.download_url + "); run allm pull again to resume from " + part.string());
    c.progress({ProgressEvent::retry, m.path, offset, m.size, why});
    std::this_thread::sleep_for(std::chrono::milliseconds(250 << std::min(attempt, 4)));
  }

  if (!m.sha256.empty()) {
    const std::string got = sha.hex();
    if (got != m.sha256) {
      fs::remove(part, ec);
      throw IoError(m.path + ": sha256 mismatch (expected " + m.sha256 + ", got " + got +
                    "); the corrupted download was removed");
    }
  }
  if (::fsync(fd) != 0) throw IoError(part.string() + ": fsync failed: " + std::strerror(errno));
  fs::rename(part, blob, ec);
  if (ec) throw IoError(part.string() + ": cannot move into blobs/: " + ec.message());
  c.progress({ProgressEvent::file_done, m.path, offset, m.size, ""});
  return fetched;
}

void check_disk_space(const Context& c, const std::vector<FileMeta>& files) {
  uint64_t need = 0;
  std::error_code ec;
  for (const auto& m : files) {
    const fs::path blob = c.repo_dir / "blobs" / m.etag;
    if (fs::exists(blob, ec)) continue;
    const uint64_t have = file_size_or_zero(blob.string() + ".incomplete");
    need += m.size > have ? m.size - have : 0;
  }
  struct statvfs st {};
  if (::statvfs((c.repo_dir / "blobs").c_str(), &st) != 0) return;
  const uint64_t free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  if (need > free_bytes)
    throw IoError("not enough disk space in " + (c.repo_dir / "blobs").string() + ": " + c.req.repo_id + " needs " +
                  byte_size_text(need) + " more, " + byte_size_text(free_bytes) + " are free");
}

void write_ref(const fs::path& repo_dir, const std::string& revision, const std::string& commit) {
  if (revision == commit) return;
  const fs::path ref = repo_dir / "refs" / revision;
  std::error_code ec;
  fs::create_directories(ref.parent_path(), ec);
  const fs::path tmp = ref.string() + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << commit;  // no newline, as huggingface_hub writes it
    if (!out) throw IoError(ref.string() + ": cannot write");
  }
  fs::rename(tmp, ref, ec);
  if (ec) throw IoError(ref.string() + ": cannot write: " + ec.message());
}

PullResult pull_offline(const PullRequest& req, const HubSettings& hub, const fs::path& repo_dir) {
  PullResult res;
  res.repo_id = req.repo_id;
  res.revision = req.revision;
  res.repo_dir = repo_dir;
  std::string commit;
  if (std::ifstream in(repo_dir / "refs" / req.revision); in) std::getline(in, commit);
  std::error_code ec;
  if (commit.empty() && fs::is_directory(repo_dir / "snapshots" / req.revision, ec)) commit = req.revision;
  if (commit.empty() || !fs::is_directory(repo_dir / "snapshots" / commit, ec))
    throw ModelLoadError("HF_HUB_OFFLINE is set and " + req.repo_id + "@" + req.revision + " is not in the cache (" +
                         repo_dir.string() + "); unset HF_HUB_OFFLINE to download it");
  (void)hub;
  res.commit = commit;
  res.snapshot = repo_dir / "snapshots" / commit;
  for (fs::recursive_directory_iterator it(res.snapshot, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) continue;
    PulledFile f;
    f.path = it->path().lexically_relative(res.snapshot).generic_string();
    f.size = file_size_or_zero(it->path());
    f.etag = fs::read_symlink(it->path(), ec).filename().string();
    res.files.push_back(f);
  }
  res.notes.push_back("HF_HUB_OFFLINE is set: the cached snapshot was used, the hub was not contacted");
  return res;
}

}  // namespace

PullResult pull(const PullRequest& request, const HubSettings& hub, const ProgressFn& progress) {
  PullRequest req = request;
  if (req.revision.empty()) req.revision = "main";
  if (req.jobs < 1) req.jobs = 1;
  const fs::path repo_dir = hub.cache_dir / repo_folder_name(req.repo_id);
  if (hub.offline) return pull_offline(req, hub, repo_dir);

  Context c{req, hub, repo_dir, hub.cache_dir / ".locks" / repo_folder_name(req.repo_id), hub.endpoint + "/" + req.repo_id,
            {}, progress};
  std::error_code ec;
  fs::create_directories(repo_dir / "blobs", ec);
  if (ec) throw IoError(repo_dir.string() + ": cannot create the cache folder: " + ec.message());
  // Backup tools skip a folder tagged so (bford.info/cachedir); huggingface_hub tags the cache too.
  if (const fs::path tag = hub.cache_dir / "CACHEDIR.TAG"; !fs::exists(tag, ec))
    std::ofstream(tag) << "Signature: 8a477f597d28d172789f06886806bc55\n"
                          "# This file is a cache directory tag created by allm (the Hugging Face hub cache).\n"
                          "# For information about cache directory tags, see https://bford.info/cachedir/\n";
  // One pull of a repo at a time; a second one waits, then finds the blobs there.
  FileLock repo_lock(c.locks_dir / "allm-pull.lock",
                     [&] { c.progress({ProgressEvent::waiting_for_lock, "", 0, 0, "another pull of " + req.repo_id + " is running; waiting for it"}); });

  HttpClient http(hub.token, url_origin(hub.endpoint), req.stall_seconds);
  const json info = parse_json(get_json(c, http,
                                        hub.endpoint + "/api/models/" + req.repo_id + "/revision/" +
                                            url_encode(req.revision, false),
                                        req.repo_id + "@" + req.revision));
  std::string commit;
  bool gated = false, is_private = false;
  std::vector<std::string> files;
  try {
    commit = info.value("sha", "");
    gated = info.contains("gated") && !info["gated"].is_null() && !(info["gated"].is_boolean() && !info["gated"].get<bool>());
    is_private = info.contains("private") && info["private"].is_boolean() && info["private"].get<bool>();
    if (info.contains("siblings") && info["siblings"].is_array())
      for (const auto& s : info["siblings"]) files.push_back(s.value("rfilename", ""));
  } catch (const json::exception& e) {
    throw IoError(hub.endpoint + ": unexpected repo info of " + req.repo_id + " (" + e.what() + ")");
  }
  if (!is_hex(commit, 40)) throw IoError(hub.endpoint + ": repo info of " + req.repo_id + " has no commit sha");
  if ((gated || is_private) && !hub.token) throw_needs_token(c);

  const auto tree = fetch_tree(c, http, commit);
  if (files.empty())  // repo info without "siblings" (very large repos): the tree lists the files
    for (const auto& [path, entry] : tree) files.push_back(path);
  Selection sel = select_files(files, req.include, req.exclude);
  if (sel.files.empty()) throw InvalidArgumentError("nothing to download from " + req.repo_id + " (--exclude removed every file)");

  PullResult res;
  res.repo_id = req.repo_id;
  res.revision = req.revision;
  res.commit = commit;
  res.repo_dir = repo_dir;
  res.snapshot = repo_dir / "snapshots" / commit;
  res.notes = sel.notes;

  std::vector<FileMeta> metas;
  uint64_t total = 0;
  for (const auto& f : sel.files) {
    metas.push_back(resolve_file(c, http, commit, f, tree));
    if (!metas.back().commit.empty() && metas.back().commit != commit)
      throw IoError(f + ": the hub resolved it at commit " + metas.back().commit + ", not " + commit);
    total += metas.back().size;
  }
  check_disk_space(c, metas);
  c.progress({ProgressEvent::plan, "", 0, total, std::to_string(metas.size()) + " files"});

  std::atomic<size_t> next{0};
  std::atomic<bool> abort{false};
  std::atomic<uint64_t> fetched{0};
  std::mutex error_mutex;
  std::exception_ptr first_error;
  std::vector<char> downloaded(metas.size(), 0);  // not vector<bool>: threads write neighbours
  auto worker = [&] {
    try {
      HttpClient client(hub.token, url_origin(hub.endpoint), req.stall_seconds);
      for (size_t i; !abort.load() && (i = next.fetch_add(1)) < metas.size();) {
        const uint64_t n = fetch_blob(c, client, metas[i], abort);
        if (abort.load()) break;
        link_into_snapshot(repo_dir, commit, metas[i]);
        fetched += n;
        downloaded[i] = n > 0;
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
      abort = true;
    }
  };
  std::vector<std::thread> pool;
  const size_t n_threads = std::min<size_t>(static_cast<size_t>(req.jobs), metas.size());
  for (size_t t = 0; t < n_threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  if (first_error) std::rethrow_exception(first_error);

  write_ref(repo_dir, req.revision, commit);
  res.bytes_downloaded = fetched;
  for (size_t i = 0; i < metas.size(); ++i)
    res.files.push_back({metas[i].path, metas[i].size, metas[i].etag, downloaded[i] != 0});
  return res;
}

}  // namespace allm::hub
