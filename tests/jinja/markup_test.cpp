// Markup (markupsafe) as Jinja 3 handles it without autoescape: `safe` and
// `escape` make one, `+` with a plain string escapes the plain side, `~`,
// `join` and `title` give plain strings. Expectations from Jinja 3.1.6 with
// markupsafe 3.0.3.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "render_helper.hpp"

namespace {

using jinja_test::render;
using jinja_test::render_error;
using json = nlohmann::ordered_json;

TEST(JinjaMarkup, AddingToMarkupEscapesThePlainSide) {
  // Functionary v3.1's tool prompt, reduced.
  const json ctx = {{"name", "<n>"}, {"t", {{"a", "\"q\""}}}};
  EXPECT_EQ(render(R"({{ "Use '"|safe + name + "' & " + t|tojson }})", ctx),
            "Use '&lt;n&gt;&#39; &amp; {&#34;a&#34;: &#34;\\&#34;q\\&#34;&#34;}");
  EXPECT_EQ(render(R"({{ name + "x"|safe }})", ctx), "&lt;n&gt;x");
  EXPECT_EQ(render(R"({{ ("<a>"|safe + "<b>") ~ "<c>" }})"), "<a>&lt;b&gt;<c>");
  EXPECT_EQ(render(R"({{ ("<a>"|safe + "<b>")|string + "<c>" }})"), "<a>&lt;b&gt;&lt;c&gt;");
  EXPECT_EQ(render(R"({{ ["<a>"|safe, "<b>"]|join("<&>") + "<" }})"), "<a><&><b><");
  EXPECT_EQ(render(R"({{ none|safe + "<" }})"), "None&lt;");
}

TEST(JinjaMarkup, EscapeFilters) {
  EXPECT_EQ(render(R"({{ "<a>"|e }}|{{ "<a>"|e|e }}|{{ "<a>"|escape + "<" }}|{{ "<a>"|safe|forceescape }})"),
            "&lt;a&gt;|&lt;a&gt;|&lt;a&gt;&lt;|&lt;a&gt;");
  EXPECT_EQ(render(R"({{ 3|e }}|{{ x|e }}|{{ "'\""|e }})"), "3||&#39;&#34;");
  EXPECT_EQ(render(R"({{ "<a>"|safe is escaped }}|{{ "<a>" is escaped }}|{{ ("<a>"|safe)|length }}|{{ "x"|safe == "x" }})"),
            "True|False|3|True");
}

TEST(JinjaMarkup, Striptags) {
  EXPECT_EQ(render(R"({{ "<p>a &amp; <b>b</b>   c &#39;d&#x27; &lt;<!-- x <y> -->e</p> < f"|striptags }})"),
            "a & b c 'd' <e < f");
  EXPECT_EQ(render(R"({{ ("<i>x</i>"|striptags) + "<" }})"), "x<");  // a plain str
}

TEST(JinjaMarkup, MethodsAndOperatorsKeepMarkup) {
  EXPECT_EQ(render(R"({{ ("<a>"|safe).upper() + "<" }}|{{ ("a-b"|safe).replace("-", "<") }}|{{ ("x"|safe).join(["<", ">"]) }})"),
            "<A>&lt;|a&lt;b|&lt;x&gt;");
  EXPECT_EQ(render(R"({{ ("&"|forceescape).join(["<", 3]) }})"), "&lt;&amp;3");
  EXPECT_EQ(render(R"({{ ("<{a}>"|safe).format_map({"a": "&"}) + "<" }})"), "<&amp;>&lt;");
  EXPECT_EQ(render(R"({{ ("%s|%d"|safe) % ("<", 3) }}|{{ "<"|safe * 2 + "&" }}|{{ ("<ab>"|safe)[1:] + "<" }})"),
            "&lt;|3|<<&amp;|ab>&lt;");
  EXPECT_EQ(render(R"({{ ["<a>"|safe] }}|{{ ("<a>"|safe|upper) + "<" }}|{{ ("<a>"|safe|title) + "<" }}|{{ ("<a>"|safe|replace("a","b")) + "<" }})"),
            "[Markup('<a>')]|<A>&lt;|<A><|<b><");
  EXPECT_EQ(render(R"({{ ("<a> "|safe|trim) + "<" }}|{{ ("%s"|safe|format("<")) }}|{{ ("{}"|safe).format("<") }})"),
            "<a>&lt;|&lt;|&lt;");
}

TEST(JinjaMarkup, TypeErrors) {
  EXPECT_EQ(render_error(R"({{ "<a>"|safe + 1 }})"),
            "test.jinja:1:15: unsupported operand type(s) for +: 'Markup' and 'int'");
  EXPECT_EQ(render_error(R"({{ 1 + "<a>"|safe }})"),
            "test.jinja:1:6: unsupported operand type(s) for +: 'int' and 'Markup'");
  EXPECT_EQ(render_error(R"({{ "a"|safe + x }})"), "test.jinja:1:13: 'x' is undefined");
}

}  // namespace
