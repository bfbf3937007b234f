// Language features: statements, expressions, scoping, whitespace control.
// Expected strings are what Jinja2 3.1 renders with transformers' settings.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "render_helper.hpp"

namespace {

using jinja_test::render;
using jinja_test::render_error;
using json = nlohmann::ordered_json;

const json kCtx = json::parse(R"({"items":[1,2,3,4,5],"d":{"a":1,"b":2},"n":null,"s":"hey",
  "msgs":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}],"pairs":[[1,"a"],[2,"b"]]})");

TEST(JinjaLanguage, LoopVariables) {
  EXPECT_EQ(render("{% for i in [1,2,3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
                   "{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}"),
            "1032TrueFalse3|2121FalseFalse3|3210FalseTrue3|");
  EXPECT_EQ(render("{% for i in [1,2,3] %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('a','b') }},{% endfor %}"),
            "-2-a,1-3-b,2--a,");
  EXPECT_EQ(render("{% for i in items %}{{ loop.changed(i // 2) }}{% endfor %}", kCtx), "TrueTrueFalseTrueFalse");
}

TEST(JinjaLanguage, LoopFilterElseUnpackingAndControl) {
  EXPECT_EQ(render("{% for i in items if i is odd %}{{ i }}{{ loop.length }}{% else %}none{% endfor %}", kCtx), "133353");
  EXPECT_EQ(render("{% for i in [] %}{{ i }}{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", kCtx), "a=1;b=2;");
  EXPECT_EQ(render("{% for a, b in pairs %}{{ a }}{{ b }}{% endfor %}", kCtx), "1a2b");
  EXPECT_EQ(render("{% for k in d %}{{ k }}{% endfor %}{% for c in s %}[{{ c }}]{% endfor %}", kCtx), "ab[h][e][y]");
  EXPECT_EQ(render("{% for i in items %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 4 %}{% break %}{% endif %}"
                   "{{ i }}{% endfor %}",
                   kCtx),
            "13");
  EXPECT_EQ(render("{% for i in range(3) %}{% for j in range(2) %}{{ loop.index }}{{ i }}{% endfor %}{{ loop.index }};"
                   "{% endfor %}"),
            "10201;11212;12223;");
}

TEST(JinjaLanguage, ScopingAndNamespaces) {
  EXPECT_EQ(render("{% set x = 1 %}{% for i in items %}{% set x = i %}{% endfor %}{{ x }}", kCtx), "1");
  // Each iteration starts afresh: the previous iteration's `set` is gone.
  EXPECT_EQ(render("{% set x = 0 %}{% for i in [1,2,3] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}"), "0102030");
  EXPECT_EQ(render("{% set ns = namespace(x=1) %}{% for i in items %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}", kCtx),
            "16");
  EXPECT_EQ(render("{% if true %}{% set y = 2 %}{% endif %}{{ y }}"), "2");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = (3, 4) %}{{ c }}"), "12(3, 4)");
  EXPECT_EQ(render("{% with a = 1, b = s %}{{ a }}{{ b }}{% endwith %}{{ a }}", kCtx), "1hey");
  EXPECT_EQ(render("{% set block %}  inner {{ s }} {% endset %}[{{ block }}]{% set b2 | upper %}x{{ s }}{% endset %}{{ b2 }}",
                   kCtx),
            "[  inner hey ]XHEY");
  EXPECT_EQ(render("{% set messages = msgs[1:] %}{{ messages|length }}", kCtx), "1");
  // Block set and filter bodies keep their assignments to themselves.
  EXPECT_EQ(render("{% set b %}{% set k = 1 %}{% endset %}{% filter upper %}{% set j = 2 %}{% endfilter %}{{ k }}{{ j }}"), "");
}

TEST(JinjaLanguage, MacrosCallsAndFilterBlocks) {
  EXPECT_EQ(render("{% macro greet(name, greeting=\"Hello\") %}{{ greeting }}, {{ name }}!{% endmacro %}"
                   "{{ greet(\"Bob\") }}|{{ greet(\"Al\", greeting=\"Hi\") }}|{{ greet() }}"),
            "Hello, Bob!|Hi, Al!|Hello, !");
  EXPECT_EQ(render("{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}"
                   "{% call wrap(\"b\") %}bold {{ s }}{% endcall %}",
                   kCtx),
            "<b>bold hey</b>");
  EXPECT_EQ(render("{% macro lst(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}"
                   "{% call(x) lst([1,2]) %}<{{ x }}>{% endcall %}"),
            "<1><2>");
  EXPECT_EQ(render("{% filter upper %}hello {{ s }}{% endfilter %}|{% filter trim | upper %}  ab  {% endfilter %}", kCtx),
            "HELLO HEY|AB");
}

TEST(JinjaLanguage, WhitespaceControl) {
  // trim_blocks + lstrip_blocks, as transformers configures Jinja.
  EXPECT_EQ(render("line1\n  {% if true %}\n    yes\n  {% endif %}\nline2\n"), "line1\n    yes\nline2");
  EXPECT_EQ(render("a  {%- if true -%}  b  {%- endif -%}  c\n{{- ' d ' -}}\n e"), "abc d e");
  EXPECT_EQ(render("  {{ s }}  \n  {% for i in [1,2] %}\n  x{{ i }}\n  {% endfor %}\nend", kCtx),
            "  hey  \n  x1\n  x2\nend");
  EXPECT_EQ(render("{%- for m in msgs -%}\n  {{ m.role }}\n{%- endfor %}", kCtx), "userassistant");
  EXPECT_EQ(render("{% for m in msgs %}\n{{ m.role }}\n{% endfor %}\n", kCtx), "user\nassistant\n");
  EXPECT_EQ(render("{% raw %}{{ not evaluated }}{% endraw %}|{# comment #}after"), "{{ not evaluated }}|after");
  EXPECT_EQ(render("a\r\nb\r\n"), "a\nb");
  // raw keeps the newline after `{% raw %}`; `+` turns trim/lstrip off.
  EXPECT_EQ(render("A{% raw %}\nX\n{% endraw %}\nB"), "A\nX\nB");
  EXPECT_EQ(render("A\n  {%+ raw %}X\n  {%+ endraw %}\nB"), "A\n  X\n  B");
  EXPECT_EQ(render("A{% raw %}X{% endraw +%}\nB"), "AX\nB");
  EXPECT_EQ(render("A{#c#}\nB|A{#c+#}\nB|  {#+c#}\nB"), "AB|A\nB|  B");
}

TEST(JinjaLanguage, Expressions) {
  EXPECT_EQ(render("{{ 1 + 2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 7 / 2 }}|{{ 6 / 3 }}"),
            "3|3|-4|1|2|1024|3.5|2.0");
  EXPECT_EQ(render("{{ -1 ** 2 }}|{{ (-1) ** 2 }}|{{ 2 ** -1 }}|{{ 10 - 2 - 3 }}|{{ 2 * 3 + 4 }}|{{ 2 + 3 * 4 }}|{{ 'a' ~ 1 * 2 }}"),
            "1|1|0.5|5|10|14|a2");
  // `~` binds tighter than `+`: ('a' ~ 1) + 2 is str + int.
  EXPECT_NE(jinja_test::render_error("{{ 'a' ~ 1 + 2 }}"), "");
  EXPECT_EQ(render("{{ not true == false }}|{{ not 1 in [1] }}|{{ 1 if true else 2 if false else 3 }}"), "True|False|1");
  EXPECT_EQ(render("{{ 1 < 2 < 3 }}|{{ 3 > 2 > 2 }}|{{ 1 == 1.0 }}|{{ 'a' in 'cat' }}|{{ 2 not in [1] }}"),
            "True|False|True|True|True");
  EXPECT_EQ(render("{{ 'yes' if n else 'no' }}|{{ 'yes' if n }}|{{ n or 'fallback' }}|{{ s and 7 }}", kCtx), "no||fallback|7");
  EXPECT_EQ(render("{{ \"\\u00e9\\x41\\n\" }}|{{ 'a' 'b' }}|{{ 1e3 }}|{{ 1_000 }}"), "\xC3\xA9" "A\n|ab|1000.0|1000");
  EXPECT_EQ(render("{{ msgs[0]['role'] }}{{ msgs.0.content }}{{ msgs[-1].content }}", kCtx), "userab");
}

TEST(JinjaLanguage, SlicingAndIndexing) {
  EXPECT_EQ(render("{{ 'hello'[1:3] }}|{{ 'hello'[::-1] }}|{{ l[::-1] }}|{{ l[1:] }}|{{ l[:-1] }}|{{ l[-1] }}|{{ l[::2] }}|{{ l[5:] }}",
                   {{"l", {3, 1, 2}}}),
            "el|olleh|[2, 1, 3]|[1, 2]|[3, 1]|2|[3, 2]|[]");
  EXPECT_EQ(render("{{ 'h\xC3\xA9llo'[1] }}|{{ 'h\xC3\xA9llo'|length }}|{{ 'h\xC3\xA9llo'[::-1] }}"), "\xC3\xA9|5|oll\xC3\xA9h");
  EXPECT_EQ(render("{{ 'abc'[5] }}|{{ items[10] }}|{{ items[10] is defined }}", kCtx), "||False");
}

TEST(JinjaLanguage, PrintsValuesLikePython) {
  EXPECT_EQ(render("{{ [1, 'a'] }}|{{ {'a': 1, 'b': [1, 'x']} }}|{{ (1,) }}|{{ none }}|{{ True }}|{{ false }}"),
            "[1, 'a']|{'a': 1, 'b': [1, 'x']}|(1,)|None|True|False");
  EXPECT_EQ(render("{{ 1.2345678901234567e+19 }}|{{ 1e-5 }}|{{ 0.1 + 0.2 }}|{{ 1e16 }}|{{ 123456789.0 }}|{{ 1/3 }}"),
            "1.2345678901234567e+19|1e-05|0.30000000000000004|1e+16|123456789.0|0.3333333333333333");
  EXPECT_EQ(render("{{ [\"it's\", 'a\"b', \"c'd\\\"e\", \"\\n\\t\"] }}"), "[\"it's\", 'a\"b', 'c\\'d\"e', '\\n\\t']");
}

TEST(JinjaLanguage, UndefinedSemantics) {
  EXPECT_EQ(render("{{ nope }}|{{ nope|length }}|{% for x in nope %}x{% endfor %}|{{ nope ~ 'a' }}|{{ d.missing }}|"
                   "{{ d['missing'] }}|{{ n.x }}",
                   kCtx),
            "|0||a|||");
  EXPECT_EQ(render("{{ nope is defined }}{{ nope is undefined }}{{ nope|default('z') }}{{ ('a' if false)|default('y') }}"),
            "FalseTruezy");
}

TEST(JinjaLanguage, StrftimeNowUsesTheInjectedClock) {
  allm::RenderOptions options;
  options.clock = [] {
    std::tm tm{};
    tm.tm_year = 126;
    tm.tm_mon = 10;
    tm.tm_mday = 22;
    tm.tm_hour = 12;
    tm.tm_wday = 0;
    return tm;
  };
  EXPECT_EQ(render("{{ strftime_now('%Y-%m-%d %H:%M %A %B %d %b') }}", json::object(), options),
            "2026-11-22 12:00 Sunday November 22 Nov");
}

TEST(JinjaLanguage, GenerationBlockRendersItsBody) {
  EXPECT_EQ(render("a{% generation %}b{{ 1 }}{% endgeneration %}c"), "ab1c");
}

// Expectations from Jinja 3.1.6.
TEST(JinjaLanguage, UndefinedKeyFindsNothing) {
  const json ctx = {{"x", json::object()}};
  EXPECT_EQ(render("{{ {'a': 1}[x.y] is defined }}|{{ [1][x.y] is defined }}|{{ {'a': 1}[x.y] }}|{{ (x|items).type is defined }}", ctx),
            "False|False||False");
  EXPECT_EQ(render_error("{{ ({'a': 1}[x.y]).z }}", ctx), "test.jinja:1:19: dict object has no element Undefined");
  EXPECT_EQ(render_error("{{ ([1][5]).z }}"), "test.jinja:1:12: list object has no element 5");
}

// Expectations from Jinja 3.1.6.
TEST(JinjaLanguage, RecursiveLoops) {
  const json ctx = {{"tree", json::parse(R"([{"n": "a", "c": [{"n": "b", "c": []}, {"n": "x", "c": [{"n": "y", "c": []}]}]},
      {"n": "d", "c": []}])")}};
  EXPECT_EQ(render("{% for i in tree recursive %}[{{ loop.depth }}{{ i.n }}{% if i.c %}{{ loop(i.c) }}{% endif %}]{% endfor %}", ctx),
            "[1a[2b][2x[3y]]][1d]");
  EXPECT_EQ(render("{% for i in tree if i.n != 'd' recursive %}{{ i.n }}{{ loop.index }}/{{ loop.length }}{{ loop(i.c)|upper }}{% else %}-{% endfor %}", ctx),
            "a1/1B1/2-X2/2Y1/1-");
  EXPECT_EQ(render("{% for i in tree recursive %}{% if loop.depth0 > 0 %}{% break %}{% endif %}{{ i.n }}{{ loop(i.c) }}{% endfor %}", ctx),
            "ad");
  EXPECT_EQ(render("{% for i in tree recursive %}{% set x = loop(i.c) %}{{ x|length }}{% endfor %}", ctx), "20");
  EXPECT_EQ(render_error("{% for i in [1] %}{{ loop([2]) }}{% endfor %}"),
            "test.jinja:1:22: The loop must have the 'recursive' marker to be called recursively.");
  // Endless recursion stops at RenderLimits::max_depth, like macros.
  EXPECT_THAT(render_error("{% for i in [1] recursive %}{{ loop([1]) }}{% endfor %}"),
              ::testing::HasSubstr("maximum recursion depth of a recursive loop exceeded"));
}

// Expectations from Jinja 3.1.6.
TEST(JinjaLanguage, SpreadArguments) {
  EXPECT_EQ(render("{% macro m(a, b=2, c=3) %}{{ a }}{{ b }}{{ c }}{% endmacro %}{{ m(*[1, 5]) }}|{{ m(1, **{'c': 9}) }}|{{ m(*[1], c=4, **{'b': 7}) }}"),
            "153|129|174");
  EXPECT_EQ(render("{{ '{}-{}'.format(*['a', 'b']) }}|{{ [3,1,2]|sort(*[true]) }}|{{ range(*[1, 4])|list }}"),
            "a-b|[3, 2, 1]|[1, 2, 3]");
  for (const char* bad : {"{{ dict(**{'a': 1}, b=2) }}", "{{ f(a=1, 2) }}", "{{ f(*a, 2) }}", "{{ f(**a, *b) }}"})
    EXPECT_THAT(render_error(bad), ::testing::HasSubstr("invalid syntax for function call expression")) << bad;
  EXPECT_EQ(render_error("{{ range(*5) }}"), "test.jinja:1:4: Value after * must be an iterable, not int");
  EXPECT_EQ(render_error("{{ dict(**[1]) }}"), "test.jinja:1:4: argument after ** must be a mapping, not list");
}

// Without `extends` a block renders in place. Expectations from Jinja 3.1.6.
TEST(JinjaLanguage, BlocksRenderInPlace) {
  const json ctx = {{"x", 7}};
  EXPECT_EQ(render("{% set a = 1 %}{% block b %}[{{ a }}{{ x }}]{% endblock %}{% set a = 2 %}{{ a }}", ctx), "[17]2");
  EXPECT_EQ(render("{% for x in [1] %}{% block b %}[{{ x }}]{% endblock %}{% endfor %}", ctx), "[7]");
  EXPECT_EQ(render("{% for x in [1] %}{% block b scoped %}[{{ x }}]{% endblock b %}{% endfor %}", ctx), "[1]");
  EXPECT_EQ(render("{% block b %}{% set q = 5 %}{% endblock %}{{ q }}", ctx), "");
  EXPECT_EQ(render("{% macro m(y) %}{% block c %}[{{ y }}]{% endblock %}{% endmacro %}{{ m(3) }}", ctx), "[]");
  EXPECT_THAT(render_error("{% block b %}1{% endblock %}{% block b %}2{% endblock %}"),
              ::testing::HasSubstr("block 'b' defined twice"));
  EXPECT_THAT(render_error("{% block b required %}x{% endblock %}"),
              ::testing::HasSubstr("Required blocks can only contain comments or whitespace"));
}

}  // namespace
