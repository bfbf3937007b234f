// The chat page (docs/server.md, "Chat page"): GET / answers the page to
// browsers, GET /webui/<file> its scripts and styles, all from memory. The
// page is public (it asks for the API key itself and sends it on the API
// routes); every answer carries a Content-Security-Policy that lets the page
// load and connect to its own origin only, so even a rendering bug cannot run
// a script or reach another host.
#include "routes.hpp"
#include "webui_assets.hpp"

namespace allm::server {

namespace {

constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const WebAsset* find_asset(std::string_view path) {
  for (const auto& a : webui_assets())
    if (a.path == path) return &a;
  return nullptr;
}

// Browsers ask for HTML; API clients that probe "/" (Ollama's) keep their
// plain-text answer.
bool wants_html(const HttpRequest& r) { return r.header("accept").find("text/html") != std::string::npos; }

void send_asset(Exchange& ex, const WebAsset& a) {
  ex.respond(200, std::string(a.content_type), std::string(a.body),
             {{"Content-Security-Policy", kContentSecurityPolicy},
              {"X-Content-Type-Options", "nosniff"},
              {"Referrer-Policy", "no-referrer"},
              {"X-Frame-Options", "DENY"},
              {"Cache-Control", "no-cache"}});
}

}  // namespace

bool webui_route(ServerContext& ctx, const std::shared_ptr<Exchange>& ex) {
  if (!ctx.options.webui) return false;
  const HttpRequest& r = ex->request();
  if (r.method != "GET") return false;
  if ((r.path == "/" && wants_html(r)) || r.path == "/index.html") {
    ex->note_route("/");
    send_asset(*ex, *find_asset("index.html"));
    return true;
  }
  constexpr std::string_view prefix = "/webui/";
  if (r.path.rfind(prefix, 0) != 0) return false;
  ex->note_route("/webui");
  if (const WebAsset* a = find_asset(std::string_view(r.path).substr(prefix.size())))
    send_asset(*ex, *a);
  else
    throw ApiError(404, "not_found", "no file " + r.path + " in the chat page");
  return true;
}

}  // namespace allm::server
