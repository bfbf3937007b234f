// JSON Schema -> grammar. Every assertion keyword is either honoured exactly or
// rejected with an error naming it and its JSON pointer; where an exact
// grammar would be too costly the grammar is stricter than the schema (it may
// refuse a valid instance written unusually, e.g. a key spelled with \u
// escapes), never looser. Keywords JSON Schema defines as annotations, and
// unknown keywords (which validators ignore too), are ignored.
#include <array>
#include <cmath>
#include <map>
#include <set>

#include "allm/error.hpp"
#include "grammar_ir.hpp"
#include "json_schema_numbers.hpp"

namespace allm::grammar {

namespace {
using json = nlohmann::ordered_json;

const std::set<std::string> kUnsupported = {
    "patternProperties", "propertyNames", "minProperties", "maxProperties", "dependencies", "dependentRequired",
    "dependentSchemas", "unevaluatedProperties", "unevaluatedItems", "contains", "minContains", "maxContains",
    "not", "if", "then", "else", "$dynamicRef", "$recursiveRef", "contentSchema"};

const std::set<std::string> kStandardFormats = {
    "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname", "ipv4", "ipv6", "uri",
    "uri-reference", "iri", "iri-reference", "uuid", "uri-template", "json-pointer", "relative-json-pointer", "regex"};

std::string escape_pointer(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

[[noreturn]] void fail(const std::string& ptr, const std::string& what) {
  throw InvalidArgumentError("JSON schema at '" + (ptr.empty() ? std::string("#") : "#" + ptr) + "': " + what);
}

class SchemaCompiler {
 public:
  SchemaCompiler(Builder& b, const json& root) : b_(b), root_(root) {}

  std::shared_ptr<const Grammar> run() {
    int32_t top = b_.declare_rule("root");
    b_.define_rule(top, value(root_, ""));
    return b_.finish(top);
  }
  // The schema's value grammar inside a larger grammar built with the same Builder.
  Frag emit() { return value(root_, ""); }

 private:
  Builder& b_;
  const json& root_;
  std::map<std::string, int32_t> ref_rules_;
  int32_t any_rule_ = -1, any_string_rule_ = -1, number_rule_ = -1;
  std::map<std::string, int32_t> string_rules_;  // string_rule's, by constraint
  int depth_ = 0;
  int nesting_ = 0;

  // ---- shared building blocks -------------------------------------------
  // Whitespace between tokens: at most kMaxWhitespace characters, so a model
  // cannot spend its whole budget on blanks (compact and one-line JSON fit;
  // deeply indented pretty-printing does not). Inline, not a rule: a
  // one-rule-per-value layout keeps per-node mask caches context-free.
  static constexpr int64_t kMaxWhitespace = 3;
  Frag ws() {
    return b_.repeat([&] { return b_.alt({b_.bytes(' ', ' '), b_.bytes('\t', '\n'), b_.bytes('\r', '\r')}); }, 0,
                     kMaxWhitespace, "whitespace");
  }
  // One string character, inline (not a rule call) so a string's content is
  // one rule and its masks do not depend on the caller.
  Frag jchar() { return b_.json_char({{0, 0x10FFFF}}, true); }
  Frag any_string() {
    if (any_string_rule_ < 0) {
      any_string_rule_ = b_.declare_rule("string");
      b_.define_rule(any_string_rule_, b_.seq({b_.literal("\""), b_.star(jchar()), b_.literal("\"")}));
    }
    return b_.call(any_string_rule_);
  }
  Frag number() {
    if (number_rule_ < 0) {
      number_rule_ = b_.declare_rule("number");
      b_.define_rule(number_rule_, b_.seq({integer_digits(true), fraction_exponent()}));
    }
    return b_.call(number_rule_);
  }
  Frag digits_plus() { return b_.plus(b_.bytes('0', '9')); }
  Frag integer_digits(bool allow_minus) {
    Frag body = b_.alt({b_.literal("0"), b_.seq({b_.bytes('1', '9'), b_.star(b_.bytes('0', '9'))})});
    return allow_minus ? b_.seq({b_.opt(b_.literal("-")), body}) : body;
  }
  Frag fraction_exponent() {
    Frag frac = b_.opt(b_.seq({b_.literal("."), digits_plus()}));
    Frag exp = b_.opt(b_.seq({b_.alt({b_.literal("e"), b_.literal("E")}),
                              b_.opt(b_.alt({b_.literal("+"), b_.literal("-")})), digits_plus()}));
    return b_.seq({frac, exp});
  }
  Frag any_value() {
    if (any_rule_ < 0) {
      any_rule_ = b_.declare_rule("value");
      Frag member = b_.seq({ws(), any_string(), ws(), b_.literal(":"), ws(), b_.call(any_rule_), ws()});
      Frag members = b_.seq({member, b_.star(b_.seq({b_.literal(","), ws(), any_string(), ws(), b_.literal(":"), ws(),
                                                     b_.call(any_rule_), ws()}))});
      Frag object = b_.seq({b_.literal("{"), b_.alt({members, ws()}), b_.literal("}")});
      Frag elem = b_.seq({ws(), b_.call(any_rule_), ws()});
      Frag elems = b_.seq({elem, b_.star(b_.seq({b_.literal(","), ws(), b_.call(any_rule_), ws()}))});
      Frag array = b_.seq({b_.literal("["), b_.alt({elems, ws()}), b_.literal("]")});
      b_.define_rule(any_rule_, b_.alt({object, array, any_string(), number(), b_.literal("true"),
                                        b_.literal("false"), b_.literal("null")}));
    }
    return b_.call(any_rule_);
  }
  Frag never() { return Frag{b_.node(), b_.node()}; }

  // A JSON value written out with optional whitespace between tokens.
  Frag literal_value(const json& v) {
    if (v.is_object()) {
      std::vector<Frag> parts{b_.literal("{"), ws()};
      bool first = true;
      for (auto& [k, x] : v.items()) {
        if (!first) parts.push_back(b_.literal(",")), parts.push_back(ws());
        first = false;
        parts.push_back(b_.literal(json(k).dump()));
        parts.push_back(ws());
        parts.push_back(b_.literal(":"));
        parts.push_back(ws());
        parts.push_back(literal_value(x));
        parts.push_back(ws());
      }
      parts.push_back(b_.literal("}"));
      return b_.seq(parts);
    }
    if (v.is_array()) {
      std::vector<Frag> parts{b_.literal("["), ws()};
      bool first = true;
      for (auto& x : v) {
        if (!first) parts.push_back(b_.literal(",")), parts.push_back(ws());
        first = false;
        parts.push_back(literal_value(x));
        parts.push_back(ws());
      }
      parts.push_back(b_.literal("]"));
      return b_.seq(parts);
    }
    return b_.literal(v.dump());
  }

  // ---- references and merging -------------------------------------------
  const json& resolve(const std::string& ref, const std::string& ptr, std::string& target_ptr) {
    if (ref.empty() || ref[0] != '#') fail(ptr + "/$ref", "only local references ('#...') are supported, got '" + ref + "'");
    std::string p = ref.substr(1);
    // Percent-decoding of the fragment (JSON pointers in URIs).
    std::string dec;
    for (size_t i = 0; i < p.size(); ++i) {
      if (p[i] == '%' && i + 2 < p.size() + 0 && i + 2 <= p.size() - 1) {
        dec += static_cast<char>(std::stoi(p.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        dec += p[i];
      }
    }
    target_ptr = dec;
    if (!dec.empty() && dec[0] != '/') fail(ptr + "/$ref", "anchor references ('" + ref + "') are not supported");
    try {
      return root_.at(json::json_pointer(dec));
    } catch (const std::exception&) {
      fail(ptr + "/$ref", "reference '" + ref + "' does not resolve in this document");
    }
  }

  static bool is_annotation_only(const json& s) {
    static const std::set<std::string> notes = {"title", "description", "default", "examples", "$schema", "$id", "id",
                                                "$comment", "deprecated", "readOnly", "writeOnly", "$defs",
                                                "definitions", "$anchor", "nullable"};
    for (auto& [k, v] : s.items())
      if (!notes.count(k)) return false;
    return true;
  }

  // allOf: the conjunction as one schema. Refuses to merge what would change
  // meaning (e.g. additionalProperties judged against another part's properties).
  json merge(json a, const json& b0, const std::string& ptr) {
    json b = b0;
    if (b.is_boolean()) {
      if (b.get<bool>()) return a;
      fail(ptr, "allOf contains 'false': no instance is valid");
    }
    if (!b.is_object()) fail(ptr, "a schema must be an object or a boolean");
    if (++depth_ > 64) fail(ptr, "allOf/$ref nesting too deep");
    if (b.contains("$ref")) {
      std::string tp;
      json target = resolve(b["$ref"].get<std::string>(), ptr, tp);
      b.erase("$ref");
      b = merge(b, target, tp);
    }
    if (b.contains("allOf")) {
      json parts = b["allOf"];
      b.erase("allOf");
      for (size_t i = 0; i < parts.size(); ++i) b = merge(b, parts[i], ptr + "/allOf/" + std::to_string(i));
    }
    --depth_;
    auto closed = [](const json& s) { return s.contains("additionalProperties") && s["additionalProperties"] != json(true); };
    auto props_within = [](const json& s, const json& other) {
      if (!other.contains("properties")) return true;
      for (auto& [k, v] : other["properties"].items())
        if (!s.contains("properties") || !s["properties"].contains(k)) return false;
      return true;
    };
    if ((closed(a) && !props_within(a, b)) || (closed(b) && !props_within(b, a)))
      fail(ptr, "allOf parts with 'additionalProperties' and differing 'properties' are not supported");
    for (auto& [k, v] : b.items()) {
      if (!a.contains(k)) {
        a[k] = v;
      } else if (k == "properties") {
        for (auto& [pk, pv] : v.items()) {
          if (a[k].contains(pk) && a[k][pk] != pv)
            a[k][pk] = json{{"allOf", json::array({a[k][pk], pv})}};
          else
            a[k][pk] = pv;
        }
      } else if (k == "required") {
        for (auto& r : v)
          if (std::find(a[k].begin(), a[k].end(), r) == a[k].end()) a[k].push_back(r);
      } else if (k == "type") {
        auto as_set = [](const json& t) {
          std::set<std::string> s;
          if (t.is_string()) s.insert(t.get<std::string>());
          else for (auto& x : t) s.insert(x.get<std::string>());
          if (s.count("number")) s.insert("integer");
          return s;
        };
        auto sa = as_set(a[k]), sb = as_set(v);
        json both = json::array();
        for (auto& t : sa)
          if (sb.count(t)) both.push_back(t);
        // {number} ∩ {integer} = integer: "number" only when both really allow it.
        if (std::find(both.begin(), both.end(), "number") != both.end()) {
          bool an = a[k] == "number" || (a[k].is_array() && std::find(a[k].begin(), a[k].end(), "number") != a[k].end());
          bool bn = v == "number" || (v.is_array() && std::find(v.begin(), v.end(), "number") != v.end());
          if (!(an && bn)) both.erase(std::find(both.begin(), both.end(), "number"));
        }
        if (both.empty()) fail(ptr, "allOf parts have no type in common");
        a[k] = both;
      } else if (a[k] == v || is_annotation_only(json{{k, v}})) {
      } else if (k == "anyOf" || k == "oneOf") {
        json both = json::array();
        for (auto& x : a[k])
          for (auto& y : v) both.push_back(json{{"allOf", json::array({x, y})}});
        a[k] = both;
      } else {
        fail(ptr, "allOf parts with different '" + k + "' are not supported");
      }
    }
    return a;
  }

  // ---- values ------------------------------------------------------------
  Frag value(const json& s, const std::string& ptr) {
    struct Depth {
      int& d;
      explicit Depth(int& x) : d(++x) {}
      ~Depth() { --d; }
    } guard(nesting_);
    if (nesting_ > 200) fail(ptr, "schema nested too deeply");
    if (s.is_boolean()) return s.get<bool>() ? any_value() : never();
    if (!s.is_object()) fail(ptr, "a schema must be an object or a boolean");
    for (auto& [k, v] : s.items()) {
      if (kUnsupported.count(k)) fail(ptr + "/" + escape_pointer(k), "keyword '" + k + "' is not supported");
    }
    if (s.contains("allOf")) {
      if (!s["allOf"].is_array()) fail(ptr + "/allOf", "must be an array");
      json rest = s;
      rest.erase("allOf");
      for (size_t i = 0; i < s["allOf"].size(); ++i)
        rest = merge(rest, s["allOf"][i], ptr + "/allOf/" + std::to_string(i));
      return value(rest, ptr);
    }
    if (s.contains("$ref")) {
      if (!s["$ref"].is_string()) fail(ptr + "/$ref", "must be a string");
      std::string target_ptr;
      const json& target = resolve(s["$ref"].get<std::string>(), ptr, target_ptr);
      json rest = s;
      rest.erase("$ref");
      if (!is_annotation_only(rest)) return value(merge(rest, target, target_ptr), ptr);
      auto it = ref_rules_.find(target_ptr);
      if (it != ref_rules_.end()) return b_.call(it->second);
      int32_t r = b_.declare_rule("#" + target_ptr);
      ref_rules_[target_ptr] = r;
      b_.define_rule(r, value(target, target_ptr));
      return b_.call(r);
    }
    for (const char* comb : {"anyOf", "oneOf"}) {
      if (!s.contains(comb)) continue;
      const json& opts = s[comb];
      if (!opts.is_array() || opts.empty()) fail(ptr + "/" + comb, "must be a non-empty array");
      json base = s;
      base.erase(comb);
      if (std::string(comb) == "oneOf" && !disjoint(opts, ptr + "/oneOf"))
        fail(ptr + "/oneOf", "keyword 'oneOf' with branches that may overlap is not supported (use anyOf)");
      std::vector<Frag> alts;
      for (size_t i = 0; i < opts.size(); ++i) {
        std::string p = ptr + "/" + comb + "/" + std::to_string(i);
        if (is_annotation_only(base)) alts.push_back(value(opts[i], p));
        else alts.push_back(value(merge(base, opts[i], p), p));
      }
      return b_.alt(alts);
    }
    return typed(s, ptr);
  }

  // Kinds a branch can produce, as a set of type names; "const:<dump>" for a
  // branch of literal values. Two branches are disjoint when these never meet.
  std::set<std::string> kinds(const json& s0) {
    json s = s0;
    if (s.is_object() && s.contains("$ref") && s["$ref"].is_string()) {
      std::string tp;
      s = resolve(s["$ref"].get<std::string>(), "", tp);
    }
    std::set<std::string> out;
    if (!s.is_object()) return {"*"};
    if (s.contains("const")) return {"const:" + s["const"].dump()};
    if (s.contains("enum") && s["enum"].is_array()) {
      for (auto& v : s["enum"]) out.insert("const:" + v.dump());
      return out;
    }
    if (!s.contains("type")) return {"*"};
    auto add = [&](const std::string& t) { out.insert(t == "integer" ? "number" : t); };
    if (s["type"].is_string()) add(s["type"].get<std::string>());
    else for (auto& t : s["type"]) if (t.is_string()) add(t.get<std::string>());
    return out;
  }
  bool disjoint(const json& opts, const std::string&) {
    std::vector<std::set<std::string>> ks;
    for (auto& o : opts) ks.push_back(kinds(o));
    auto type_of_const = [](const std::string& c) {
      json v = json::parse(c.substr(6));
      if (v.is_null()) return std::string("null");
      if (v.is_boolean()) return std::string("boolean");
      if (v.is_number()) return std::string("number");
      if (v.is_string()) return std::string("string");
      if (v.is_array()) return std::string("array");
      return std::string("object");
    };
    for (size_t i = 0; i < ks.size(); ++i)
      for (size_t j = i + 1; j < ks.size(); ++j)
        for (auto& x : ks[i])
          for (auto& y : ks[j]) {
            if (x == "*" || y == "*" || x == y) return false;
            bool xc = x.rfind("const:", 0) == 0, yc = y.rfind("const:", 0) == 0;
            if (xc && !yc && type_of_const(x) == y) return false;
            if (yc && !xc && type_of_const(y) == x) return false;
          }
    return true;
  }

  static bool value_has_type(const json& v, const std::string& t) {
    if (t == "null") return v.is_null();
    if (t == "boolean") return v.is_boolean();
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "number") return v.is_number();
    if (t == "integer")
      return v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
    return false;
  }

  Frag typed(const json& s, const std::string& ptr) {
    std::vector<std::string> types;
    if (s.contains("type")) {
      const json& t = s["type"];
      if (t.is_string()) types.push_back(t.get<std::string>());
      else if (t.is_array()) for (auto& x : t) types.push_back(x.is_string() ? x.get<std::string>() : "?");
      else fail(ptr + "/type", "must be a string or an array of strings");
      for (auto& x : types)
        if (x != "null" && x != "boolean" && x != "object" && x != "array" && x != "string" && x != "number" &&
            x != "integer")
          fail(ptr + "/type", "unknown type '" + x + "'");
    }
    if (s.contains("const") || s.contains("enum")) {
      json values = s.contains("const") ? json::array({s["const"]}) : s["enum"];
      if (!values.is_array()) fail(ptr + "/enum", "must be an array");
      static const std::set<std::string> value_keywords = {
          "minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
          "multipleOf", "properties", "required", "additionalProperties", "items", "prefixItems", "minItems",
          "maxItems", "uniqueItems", "additionalItems"};
      for (auto& [k, v] : s.items())
        if (value_keywords.count(k))
          fail(ptr + "/" + k, "keyword '" + k + "' next to enum/const is not supported");
      std::vector<Frag> alts;
      for (auto& v : values) {
        bool ok = types.empty();
        for (auto& t : types) ok = ok || value_has_type(v, t);
        if (ok) alts.push_back(literal_value(v));
      }
      if (alts.empty()) return never();
      return b_.alt(alts);
    }
    if (types.empty()) types = {"null", "boolean", "object", "array", "string", "number"};
    bool has_number = std::find(types.begin(), types.end(), "number") != types.end();
    std::vector<Frag> alts;
    for (auto& t : types) {
      if (t == "null") alts.push_back(b_.literal("null"));
      else if (t == "boolean") alts.push_back(b_.alt({b_.literal("true"), b_.literal("false")}));
      else if (t == "string") alts.push_back(string_value(s, ptr));
      else if (t == "number") alts.push_back(number_value(s, ptr, false));
      else if (t == "integer" && !has_number) alts.push_back(number_value(s, ptr, true));
      else if (t == "object") alts.push_back(object_value(s, ptr));
      else if (t == "array") alts.push_back(array_value(s, ptr));
    }
    return b_.alt(alts);
  }

  int64_t nonneg_int(const json& s, const char* key, const std::string& ptr, int64_t dflt) {
    if (!s.contains(key)) return dflt;
    const json& v = s[key];
    if (!v.is_number() || v.get<double>() < 0 || std::floor(v.get<double>()) != v.get<double>())
      fail(ptr + "/" + key, std::string("'") + key + "' must be a non-negative integer");
    if (v.get<double>() > 1e15) return dflt < 0 && std::string(key).rfind("max", 0) == 0 ? -1 : Builder::kMaxRepeat + 1;
    return v.get<int64_t>();
  }

  Frag string_value(const json& s, const std::string& ptr) {
    int64_t min = nonneg_int(s, "minLength", ptr, 0), max = nonneg_int(s, "maxLength", ptr, -1);
    bool lengths = min > 0 || max >= 0;
    if (s.contains("pattern") && s.contains("format"))
      fail(ptr + "/format", "keyword 'format' together with 'pattern' is not supported");
    std::string regex;
    std::string where;
    if (s.contains("pattern")) {
      if (!s["pattern"].is_string()) fail(ptr + "/pattern", "must be a string");
      regex = s["pattern"].get<std::string>();
      where = ptr + "/pattern";
    } else if (s.contains("format")) {
      if (!s["format"].is_string()) fail(ptr + "/format", "must be a string");
      const std::string& f = s["format"].get_ref<const std::string&>();
      regex = format_regex(f);
      // Formats JSON Schema defines are honoured or refused; others are
      // annotations that validators ignore, and so does the grammar.
      if (regex.empty() && kStandardFormats.count(f)) fail(ptr + "/format", "keyword 'format' value '" + f + "' is not supported");
      where = ptr + "/format";
    }
    if (!regex.empty()) {
      if (lengths) fail(where, "keyword '" + where.substr(where.rfind('/') + 1) + "' together with minLength/maxLength is not supported");
      RegexNode tree;
      try {
        tree = parse_regex(regex, where.size() >= 8 && where.compare(where.size() - 8, 8, "/pattern") == 0, "JSON schema at '#" + where + "'");
      } catch (const InvalidArgumentError&) {
        throw;
      }
      return string_rule(where.substr(where.rfind('/') + 1) + ":" + regex, "#" + where, [&] {
        return b_.seq({b_.literal("\""), emit_regex(b_, tree, true, "#" + where), b_.literal("\"")});
      });
    }
    if (!lengths) return any_string();
    return string_rule("length:" + std::to_string(min) + "," + std::to_string(max), "#" + ptr, [&] {
      return b_.seq({b_.literal("\""), b_.repeat([&] { return jchar(); }, min, max, "JSON schema at '#" + ptr + "/maxLength'"),
                     b_.literal("\"")});
    });
  }

  // A string value as a rule of its own, one per distinct constraint: its
  // masks then depend on the string alone, not on the members around it, and
  // are shared by every property (and every grammar) with that constraint.
  Frag string_rule(const std::string& key, const std::string& name, const std::function<Frag()>& body) {
    auto it = string_rules_.find(key);
    if (it != string_rules_.end()) return b_.call(it->second);
    int32_t r = b_.declare_rule(name);
    b_.define_rule(r, body());
    string_rules_.emplace(key, r);
    return b_.call(r);
  }

  static std::string format_regex(const std::string& f) {
    const std::string date =
        "(\\d{4}-(0[13578]|1[02])-(0[1-9]|[12]\\d|3[01])|\\d{4}-(0[469]|11)-(0[1-9]|[12]\\d|30)|"
        "\\d{4}-02-(0[1-9]|1\\d|2[0-8])|"
        "(\\d\\d(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)-02-29)";
    const std::string time = "([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(\\.\\d+)?([Zz]|[+-]([01]\\d|2[0-3]):[0-5]\\d)";
    if (f == "date") return "^" + date + "$";
    if (f == "time") return "^" + time + "$";
    if (f == "date-time") return "^" + date + "[Tt]" + time + "$";
    if (f == "uuid") return "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
    if (f == "email")
      return "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";
    if (f == "ipv4") return "^((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)$";
    if (f == "uri")
      return "^[A-Za-z][A-Za-z0-9+.-]*:([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*$";
    return "";
  }

  Frag number_value(const json& s, const std::string& ptr, bool integer) {
    Bounds bounds = read_bounds(s, ptr, integer);
    if (s.contains("multipleOf")) {
      const json& m = s["multipleOf"];
      if (!(integer && m.is_number() && m.get<double>() == 1.0))
        fail(ptr + "/multipleOf", "keyword 'multipleOf' is not supported");
    }
    if (integer) {
      if (!bounds.has_lo && !bounds.has_hi) return integer_digits(true);
      return integer_range(b_, bounds);
    }
    if (!bounds.has_lo && !bounds.has_hi) return number();
    return number_range(b_, bounds, ptr);
  }

  Bounds read_bounds(const json& s, const std::string& ptr, bool integer) {
    Bounds bd;
    auto num = [&](const char* k) {
      if (!s[k].is_number()) fail(ptr + "/" + k, std::string("'") + k + "' must be a number");
      return s[k].get<double>();
    };
    auto lower = [&](double v, bool exclusive) {
      if (!bd.has_lo || v > bd.lo || (v == bd.lo && exclusive)) bd.lo = v, bd.lo_excl = exclusive, bd.has_lo = true;
    };
    auto upper = [&](double v, bool exclusive) {
      if (!bd.has_hi || v < bd.hi || (v == bd.hi && exclusive)) bd.hi = v, bd.hi_excl = exclusive, bd.has_hi = true;
    };
    bool draft4_lo = s.contains("exclusiveMinimum") && s["exclusiveMinimum"].is_boolean();
    bool draft4_hi = s.contains("exclusiveMaximum") && s["exclusiveMaximum"].is_boolean();
    if (s.contains("minimum")) lower(num("minimum"), draft4_lo && s["exclusiveMinimum"].get<bool>());
    if (s.contains("maximum")) upper(num("maximum"), draft4_hi && s["exclusiveMaximum"].get<bool>());
    if (s.contains("exclusiveMinimum") && !draft4_lo) lower(num("exclusiveMinimum"), true);
    if (s.contains("exclusiveMaximum") && !draft4_hi) upper(num("exclusiveMaximum"), true);
    (void)integer;
    return bd;
  }

  Frag object_value(const json& s, const std::string& ptr) {
    json props = s.contains("properties") ? s["properties"] : json::object();
    if (!props.is_object()) fail(ptr + "/properties", "must be an object");
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) fail(ptr + "/required", "must be an array");
      for (auto& r : s["required"]) {
        if (!r.is_string()) fail(ptr + "/required", "must list strings");
        required.insert(r.get<std::string>());
      }
    }
    json extra = s.contains("additionalProperties") ? s["additionalProperties"] : json(true);
    bool extra_allowed = !(extra.is_boolean() && !extra.get<bool>());
    struct Prop {
      std::string name, ptr;
      json schema;
      bool required;
    };
    std::vector<Prop> list;
    for (auto& [k, v] : props.items())
      list.push_back({k, ptr + "/properties/" + escape_pointer(k), v, required.count(k) > 0});
    for (auto& r : required)
      if (!props.contains(r)) {
        if (!extra_allowed) fail(ptr + "/required", "required property '" + r + "' is forbidden by additionalProperties: false");
        list.push_back({r, ptr + "/additionalProperties", extra, true});
      }
    std::vector<std::string> names;
    for (auto& p : list) names.push_back(p.name);
    auto kv = [&](const Prop& p) {
      return b_.seq({ws(), b_.literal(json(p.name).dump()), ws(), b_.literal(":"), ws(), value(p.schema, p.ptr), ws()});
    };
    // Extra members go after the listed ones, with keys none of the listed names.
    Frag extra_kv_first = never(), extra_tail = b_.empty();
    int32_t extra_rule = -1;
    if (extra_allowed) {
      extra_rule = b_.declare_rule("#" + ptr + "/additionalProperties");
      b_.define_rule(extra_rule, b_.seq({ws(), key_not_in(names), ws(), b_.literal(":"), ws(),
                                          value(extra, ptr + "/additionalProperties"), ws()}));
      extra_kv_first = b_.seq({b_.call(extra_rule), b_.star(b_.seq({b_.literal(","), b_.call(extra_rule)}))});
      extra_tail = b_.star(b_.seq({b_.literal(","), b_.call(extra_rule)}));
    }
    // after[i]: members i.. once something was written (each led by ",");
    // fresh[i]: members i.. with nothing written yet.
    const size_t n = list.size();
    std::vector<int32_t> after(n + 1), fresh(n + 1);
    for (size_t i = 0; i <= n; ++i) {
      after[i] = b_.declare_rule("#" + ptr + "/properties[" + std::to_string(i) + "..]");
      fresh[i] = b_.declare_rule("#" + ptr + "/properties[" + std::to_string(i) + "..]/first");
    }
    b_.define_rule(after[n], extra_tail);
    b_.define_rule(fresh[n], extra_allowed ? b_.alt({extra_kv_first, ws()}) : ws());
    for (size_t i = n; i-- > 0;) {
      const Prop& p = list[i];
      Frag with_comma = b_.seq({b_.literal(","), kv(p), b_.call(after[i + 1])});
      b_.define_rule(after[i], p.required ? with_comma : b_.alt({with_comma, b_.call(after[i + 1])}));
      Frag first = b_.seq({kv(p), b_.call(after[i + 1])});
      b_.define_rule(fresh[i], p.required ? first : b_.alt({first, b_.call(fresh[i + 1])}));
    }
    return b_.seq({b_.literal("{"), b_.call(fresh[0]), b_.literal("}")});
  }

  // A JSON string key that is none of `names`. Keys are read in the one
  // spelling the grammar allows per character (raw, or the short escapes for
  // '"', '\\' and controls), so "not one of the names" is exact.
  Frag key_not_in(const std::vector<std::string>& names) {
    struct TrieNode {
      std::map<uint32_t, size_t> kids;
      bool terminal = false;
    };
    std::vector<TrieNode> t(1);
    for (auto& name : names) {
      size_t cur = 0;
      for (size_t i = 0; i < name.size();) {
        unsigned char c = static_cast<unsigned char>(name[i]);
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
        uint32_t cp = len == 1 ? c : (c & (0x7F >> len));
        for (int k = 1; k < len && i + static_cast<size_t>(k) < name.size(); ++k)
          cp = (cp << 6) | (static_cast<unsigned char>(name[i + static_cast<size_t>(k)]) & 0x3F);
        i += static_cast<size_t>(len);
        auto it = t[cur].kids.find(cp);
        if (it == t[cur].kids.end()) {
          t.emplace_back();
          t[cur].kids[cp] = t.size() - 1;
          cur = t.size() - 1;
        } else {
          cur = it->second;
        }
      }
      t[cur].terminal = true;
    }
    // The rest of a key once it left the names: a loop of characters, then
    // the closing quote. Where a name-trie node's next characters are plain
    // ASCII, leaving the names is wired as the loop's own first-byte edges
    // minus those characters: whatever byte leaves the names leads to the
    // very nodes the loop reaches, so a key prefix's state differs from the
    // loop's only on the names' next bytes, and the matcher derives its mask
    // from the loop's (Matcher: derived local walks) instead of walking the
    // whole vocabulary for every prefix of every name.
    const CodeRanges all = {{0, 0x10FFFF}};
    const int32_t loop = b_.node(), end = b_.node();
    const Frag ch = b_.json_char(all, false);
    b_.epsilon(loop, ch.start);
    b_.epsilon(ch.end, loop);
    b_.byte_edge(loop, '"', '"', end);
    const std::vector<Edge> leave = b_.leading_bytes(ch.start);
    std::function<int32_t(size_t)> build = [&](size_t i) {
      const int32_t x = b_.node();
      if (!t[i].terminal) b_.byte_edge(x, '"', '"', end);
      CodeRanges used;
      bool plain = true;
      for (auto& [cp, child] : t[i].kids) {
        Frag c = b_.json_char({{cp, cp}}, false);
        b_.epsilon(x, c.start);
        b_.epsilon(c.end, build(child));
        used.emplace_back(cp, cp);
        plain = plain && cp >= 0x20 && cp < 0x7F && cp != '"' && cp != '\\';
      }
      if (plain) {
        std::array<bool, 256> taken{};
        for (auto& [cp, child] : t[i].kids) taken[cp] = true;
        for (const Edge& e : leave)
          for (int lo = e.lo; lo <= e.hi;) {
            if (taken[static_cast<size_t>(lo)]) {
              ++lo;
              continue;
            }
            int hi = lo;
            while (hi < e.hi && !taken[static_cast<size_t>(hi + 1)]) ++hi;
            b_.byte_edge(x, static_cast<uint8_t>(lo), static_cast<uint8_t>(hi), e.to);
            lo = hi + 1;
          }
      } else {
        CodeRanges others = complement(used);
        if (!others.empty()) {
          Frag c = b_.json_char(others, false);
          b_.epsilon(x, c.start);
          b_.epsilon(c.end, loop);
        }
      }
      return x;
    };
    Frag open = b_.literal("\"");
    b_.epsilon(open.end, build(0));
    return Frag{open.start, end};
  }

  Frag array_value(const json& s, const std::string& ptr) {
    if (s.contains("uniqueItems") && s["uniqueItems"] == json(true))
      fail(ptr + "/uniqueItems", "keyword 'uniqueItems' is not supported");
    std::vector<std::pair<json, std::string>> prefix;
    json items = json(true);
    std::string items_ptr = ptr + "/items";
    if (s.contains("prefixItems")) {
      if (!s["prefixItems"].is_array()) fail(ptr + "/prefixItems", "must be an array");
      for (size_t i = 0; i < s["prefixItems"].size(); ++i)
        prefix.push_back({s["prefixItems"][i], ptr + "/prefixItems/" + std::to_string(i)});
      if (s.contains("items")) items = s["items"];
    } else if (s.contains("items") && s["items"].is_array()) {
      for (size_t i = 0; i < s["items"].size(); ++i)
        prefix.push_back({s["items"][i], ptr + "/items/" + std::to_string(i)});
      items = s.contains("additionalItems") ? s["additionalItems"] : json(true);
      items_ptr = ptr + "/additionalItems";
    } else if (s.contains("items")) {
      items = s["items"];
    }
    bool more = !(items.is_boolean() && !items.get<bool>());
    int64_t min = nonneg_int(s, "minItems", ptr, 0), max = nonneg_int(s, "maxItems", ptr, -1);
    const auto np = static_cast<int64_t>(prefix.size());
    if (!more && (max < 0 || max > np)) max = np;
    if (max >= 0 && min > max) return never();
    int32_t item_rule = -1;
    if (more) {
      item_rule = b_.declare_rule("#" + items_ptr);
      b_.define_rule(item_rule, value(items, items_ptr));
    }
    auto elem = [&](int64_t k) {
      Frag v = k < np ? value(prefix[static_cast<size_t>(k)].first, prefix[static_cast<size_t>(k)].second)
                      : b_.call(item_rule);
      return b_.seq({ws(), v, ws()});
    };
    // tail(k): elements k.. after at least one was written.
    std::function<Frag(int64_t)> tail = [&](int64_t k) -> Frag {
      if (max >= 0 && k >= max) return b_.empty();
      if (k >= np) {
        int64_t lo = std::max<int64_t>(0, min - k), hi = max < 0 ? -1 : max - k;
        return b_.repeat([&] { return b_.seq({b_.literal(","), elem(np)}); }, lo, hi, "JSON schema at '#" + ptr + "/maxItems'");
      }
      Frag one = b_.seq({b_.literal(","), elem(k), tail(k + 1)});
      return k < min ? one : b_.opt(one);
    };
    if (max == 0) return b_.seq({b_.literal("["), ws(), b_.literal("]")});
    Frag nonempty = b_.seq({elem(0), tail(1)});
    return b_.seq({b_.literal("["), min >= 1 ? nonempty : b_.alt({nonempty, ws()}), b_.literal("]")});
  }
};
}  // namespace

std::shared_ptr<const Grammar> compile_json_schema(const nlohmann::ordered_json& schema) {
  Builder b;
  return SchemaCompiler(b, schema).run();
}

std::shared_ptr<const Grammar> compile_item_list(const ItemList& list) {
  if (list.choices.empty()) throw InvalidArgumentError("grammar: an item list needs at least one choice");
  Builder b;
  // Each choice is a rule, so the list's repetition calls it instead of
  // copying its automaton.
  const int32_t item = b.declare_rule("item");
  std::vector<Frag> options;
  for (const auto& c : list.choices) {
    try {
      options.push_back(b.seq({b.literal(c.before), SchemaCompiler(b, c.schema).emit(), b.literal(c.after)}));
    } catch (const InvalidArgumentError& e) {
      throw InvalidArgumentError(c.where + ": " + e.what());
    }
  }
  b.define_rule(item, b.alt(options));
  Frag items = list.repeat ? b.seq({b.call(item), b.star(b.seq({b.literal(list.separator), b.call(item)}))})
                           : b.call(item);
  const int32_t root = b.declare_rule("root");
  b.define_rule(root, b.seq({b.literal(list.open), items, b.literal(list.close)}));
  return b.finish(root);
}

std::shared_ptr<const Grammar> compile_json_schema_text(std::string_view text) {
  nlohmann::ordered_json schema;
  try {
    schema = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgumentError(std::string("JSON schema: malformed JSON: ") + e.what());
  }
  return compile_json_schema(schema);
}

}  // namespace allm::grammar
