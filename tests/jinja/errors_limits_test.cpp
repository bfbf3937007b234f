// Errors name the template's place and carry its message; limits stop
// runaway templates.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "render_helper.hpp"

namespace {

using jinja_test::render;
using jinja_test::render_error;
using json = nlohmann::ordered_json;
using ::testing::HasSubstr;

std::string parse_error(const std::string& tpl) {
  try {
    allm::ChatTemplate::parse(tpl, "test.jinja");
  } catch (const allm::TemplateError& e) {
    return e.what();
  }
  return "";
}

TEST(JinjaErrors, ParseErrorsNameLineAndColumn) {
  EXPECT_EQ(parse_error("ok\n{% if %}"), "test.jinja:2:7: unexpected '%}'");
  EXPECT_EQ(parse_error("{{ (1 }}"), "test.jinja:1:7: unexpected '}'");
  EXPECT_EQ(parse_error("{% endfor %}"), "test.jinja:1:4: Encountered unknown tag 'endfor'.");
  EXPECT_EQ(parse_error("{% if true %}unclosed"), "test.jinja:1:22: unexpected end of template, expected 'elif' or 'else' or 'endif'");
  EXPECT_EQ(parse_error("{{ 'unterminated }}"), "test.jinja:1:4: unterminated string");
  EXPECT_EQ(parse_error("{% break %}"), "test.jinja:1:4: 'break' outside of a loop");
  EXPECT_EQ(parse_error("a{% from 'z' import a, %}"), "test.jinja:1:24: expected a name, got '%}'");
  // An `if` condition takes no inline if (Jinja 3.1.6 refuses it too).
  EXPECT_EQ(parse_error("{% if 1 if 0 else 0 %}{% endif %}"), "test.jinja:1:9: expected end of statement '%}', got 'if'");
  EXPECT_EQ(parse_error("{% if 0 %}{% elif 1 if 0 else 0 %}{% endif %}"),
            "test.jinja:1:21: expected end of statement '%}', got 'if'");
  EXPECT_EQ(render("{% if 1, 0 %}x{% endif %}{% if (1 if 0 else 2) %}y{% endif %}"), "xy");
  EXPECT_EQ(parse_error("{# open comment"), "test.jinja:1:1: unterminated comment");
}

TEST(JinjaErrors, UnknownFilterOrTestFailsAtParse) {
  EXPECT_EQ(parse_error("a\n  {{ x | nosuchfilter }}"), "test.jinja:2:10: No filter named 'nosuchfilter'.");
  EXPECT_EQ(parse_error("{{ x is nosuchtest }}"), "test.jinja:1:6: No test named 'nosuchtest'.");
  // Bodies with a frame of their own are checked even inside an `if`, as
  // Jinja 3's compiler does (expectations from Jinja 3.1.6).
  EXPECT_EQ(parse_error("{% if a %}{% for i in y %}{{ i|nofilt }}{% endfor %}{% endif %}"),
            "test.jinja:1:32: No filter named 'nofilt'.");
  EXPECT_THAT(parse_error("{% if a %}{% macro m() %}{{ x|nofilt }}{% endmacro %}{% endif %}"),
              HasSubstr("No filter named 'nofilt'."));
  EXPECT_THAT(parse_error("{% if a %}{% set q %}{{ x|nofilt }}{% endset %}{% endif %}"),
              HasSubstr("No filter named 'nofilt'."));
  EXPECT_THAT(parse_error("{% if a %}{% filter nofilt %}{% endfilter %}{% endif %}"),
              HasSubstr("No filter named 'nofilt'."));
  EXPECT_THAT(parse_error("{% if a %}{% for i in y if i|nofilt %}{% endfor %}{% endif %}"),
              HasSubstr("No filter named 'nofilt'."));
  EXPECT_THAT(parse_error("{{ (1 if a else 2)|nofilt }}"), HasSubstr("No filter named 'nofilt'."));
}

// Jinja compiles include/import/extends and fails only when one runs
// (transformers' environment has no loader). Expectations from Jinja 3.1.6.
TEST(JinjaErrors, LoadingOtherTemplatesFailsWhenReached) {
  EXPECT_EQ(render("{% if false %}{% include \"x\" ignore missing with context %}{% import \"y\" as y %}"
                   "{% from \"z\" import a as b, c with context %}{% extends \"w\" %}{% endif %}ok"),
            "ok");
  EXPECT_EQ(render_error("a{% include x.y %}", {{"x", json::object()}}),
            "test.jinja:1:5: no loader for this environment specified ('include' cannot load other templates)");
  EXPECT_THAT(render_error("{% extends 'x' %}"), HasSubstr("no loader for this environment specified"));
  EXPECT_THAT(render_error("{% import 'x' as y %}"), HasSubstr("no loader for this environment specified"));
}

// Jinja 3 defers the check inside `if` statements and inline ifs: the
// template renders while the branch is not taken, and fails when it is.
TEST(JinjaErrors, UnknownFilterOrTestInsideIfFailsWhenReached) {
  const json off = {{"a", false}}, on = {{"a", true}};
  EXPECT_EQ(render("{% if a %}{{ x|from_json }}{% endif %}ok", off), "ok");
  EXPECT_EQ(render_error("{% if a %}{{ x|from_json }}{% endif %}ok", on),
            "test.jinja:1:16: No filter named 'from_json' found.");
  EXPECT_EQ(render("{% if a %}{% else %}{% endif %}{% if a %}{% if b %}{{ x|nofilt }}{% endif %}{% endif %}ok", off), "ok");
  EXPECT_EQ(render_error("{% if a %}{% else %}{{ x|nofilt }}{% endif %}", off),
            "test.jinja:1:26: No filter named 'nofilt' found.");
  EXPECT_EQ(render("{% if a %}{% set q = x|nofilt %}{% endif %}ok", off), "ok");
  EXPECT_EQ(render("{% if a %}{% with q = x|nofilt %}{% endwith %}{% endif %}ok", off), "ok");
  EXPECT_EQ(render("{% if a %}{% for i in y|nofilt %}{% endfor %}{% endif %}ok", off), "ok");
  EXPECT_EQ(render("{% for i in [1] %}{% if a %}{{ x|nofilt }}{% endif %}{% endfor %}ok", off), "ok");
  EXPECT_EQ(render("{% macro m() %}{% if a %}{{ x|nofilt }}{% endif %}{% endmacro %}ok{{ m() }}", off), "ok");
  EXPECT_EQ(render("{{ x|nofilt if a else 1 }}ok", off), "1ok");
  EXPECT_EQ(render("{{ x|nofilt if a }}ok", off), "ok");
  EXPECT_EQ(render_error("{{ 1 if a else x|nofilt }}", off), "test.jinja:1:18: No filter named 'nofilt' found.");
  EXPECT_EQ(render_error("{% if x is notest %}{% endif %}", off), "test.jinja:1:9: No test named 'notest' found.");
  EXPECT_EQ(render("{% if a and x is notest %}{% endif %}ok", off), "ok");
}

TEST(JinjaErrors, RuntimeErrorsCarryTheTemplatesMessage) {
  EXPECT_EQ(render_error("line\n{{ raise_exception('Boom: ' ~ s) }}", {{"s", "hey"}}), "test.jinja:2:4: Boom: hey");
  EXPECT_EQ(render_error("{{ nope() }}"), "test.jinja:1:4: 'nope' is undefined");
  EXPECT_EQ(render_error("{{ nope.attr }}"), "test.jinja:1:8: 'nope' is undefined");
  EXPECT_EQ(render_error("{{ d.missing.attr }}", {{"d", json::object()}}), "test.jinja:1:13: 'dict object' has no attribute 'missing'");
  EXPECT_EQ(render_error("{% for x in n %}{% endfor %}", {{"n", nullptr}}), "test.jinja:1:4: 'NoneType' object is not iterable");
  EXPECT_EQ(render_error("{{ 1 + 'a' }}"), "test.jinja:1:6: unsupported operand type(s) for +: 'int' and 'str'");
  EXPECT_EQ(render_error("{{ 'a' + 1 }}"), "test.jinja:1:8: can only concatenate str (not \"int\") to str");
  EXPECT_EQ(render_error("{{ 1 // 0 }}"), "test.jinja:1:6: integer division or modulo by zero");
  // transformers' sandbox is immutable: list.append is refused.
  EXPECT_EQ(render_error("{% set x = [1] %}{{ x.append(2) }}"),
            "test.jinja:1:22: access to attribute 'append' of 'list' object is unsafe.");
  EXPECT_THROW(render("{{ x }}", json::array()), allm::InvalidArgumentError);
}

TEST(JinjaLimits, StepLimitStopsEndlessWork) {
  allm::RenderOptions options;
  options.limits.max_steps = 10000;
  std::string err = render_error("{% for i in range(100) %}{% for j in range(100) %}{% for k in range(100) %}x{% endfor %}"
                                 "{% endfor %}{% endfor %}",
                                 json::object(), options);
  EXPECT_THAT(err, HasSubstr("exceeded the limit of 10000 steps"));
}

TEST(JinjaLimits, OutputLimitStopsGrowth) {
  allm::RenderOptions options;
  options.limits.max_output_bytes = 1000;
  EXPECT_THAT(render_error("{% for i in range(2000) %}x{% endfor %}", json::object(), options), HasSubstr("1000 bytes"));
  EXPECT_THAT(render_error("{{ 'x' * 100000000000 }}", json::object(), options), HasSubstr("1000 bytes"));
  EXPECT_THAT(render_error("{% set ns = namespace(s='ab') %}{% for i in range(20) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                           json::object(), options),
              HasSubstr("1000 bytes"));
  EXPECT_EQ(render("{% for i in range(999) %}x{% endfor %}", json::object(), options).size(), 999u);
}

TEST(JinjaLimits, RecursionLimitStopsRunawayMacros) {
  allm::RenderOptions options;
  options.limits.max_depth = 50;
  EXPECT_THAT(render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", json::object(), options),
              HasSubstr("maximum macro recursion depth exceeded"));
  EXPECT_EQ(render("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }}", json::object(),
                   options),
            "54321");
}

TEST(JinjaLimits, DeepNestingIsRefusedNotACrash) {
  std::string deep = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  EXPECT_THAT(parse_error(deep), HasSubstr("nested too deeply"));
  std::string ifs;
  for (int i = 0; i < 2000; ++i) ifs += "{% if true %}";
  EXPECT_THAT(parse_error(ifs), HasSubstr("nested too deeply"));
}

TEST(JinjaBos, DoubledBosGuard) {
  EXPECT_TRUE(allm::rendered_starts_with_bos("<s>[INST] hi", "<s>"));
  EXPECT_FALSE(allm::rendered_starts_with_bos("[INST] hi", "<s>"));
  EXPECT_FALSE(allm::rendered_starts_with_bos("<s>", ""));
  EXPECT_FALSE(allm::rendered_starts_with_bos(" <s>", "<s>"));
}

}  // namespace

namespace {

std::string config_error(const nlohmann::json& config) {
  try {
    allm::RenderLimits::from_config(config);
  } catch (const allm::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(JinjaLimits, ConfigKeysSetTheLimits) {
  const allm::RenderLimits defaults;
  const allm::RenderLimits none = allm::RenderLimits::from_config(nlohmann::json::object());
  EXPECT_EQ(none.max_steps, defaults.max_steps);
  EXPECT_EQ(none.max_output_bytes, defaults.max_output_bytes);
  const allm::RenderLimits set = allm::RenderLimits::from_config(
      {{"template", {{"max_output_bytes", 111}, {"max_steps", 222}, {"max_depth", 33}, {"max_memory_bytes", 444}}}});
  EXPECT_EQ(set.max_output_bytes, 111u);
  EXPECT_EQ(set.max_steps, 222u);
  EXPECT_EQ(set.max_depth, 33);
  EXPECT_EQ(set.max_memory_bytes, 444u);
  // One key set: the others keep their defaults.
  const allm::RenderLimits one = allm::RenderLimits::from_config({{"template", {{"max_depth", 7}}}});
  EXPECT_EQ(one.max_depth, 7);
  EXPECT_EQ(one.max_steps, defaults.max_steps);
}

TEST(JinjaLimits, BadConfigValuesNameTheKey) {
  EXPECT_THAT(config_error({{"template", {{"max_steps", 0}}}}), HasSubstr("template.max_steps: expected a positive integer"));
  EXPECT_THAT(config_error({{"template", {{"max_memory_bytes", -5}}}}), HasSubstr("template.max_memory_bytes"));
  EXPECT_THAT(config_error({{"template", {{"max_output_bytes", "big"}}}}), HasSubstr("template.max_output_bytes"));
  EXPECT_THAT(config_error({{"template", {{"max_depth", 1.5}}}}), HasSubstr("template.max_depth"));
  // max_depth is an int: a value past its range is refused, not wrapped.
  EXPECT_THAT(config_error({{"template", {{"max_depth", 4294967296}}}}), HasSubstr("template.max_depth"));
}
