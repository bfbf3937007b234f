// json_depth_error: the nesting check every JSON reader runs before parsing.
#include <string>

#include <gtest/gtest.h>

#include "allm/json_depth.hpp"

namespace {

std::string nested(size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(JsonDepth, AcceptsUpToTheLimit) {
  EXPECT_EQ(allm::json_depth_error(nested(256)), "");
  EXPECT_EQ(allm::json_depth_error(R"({"a": [1, {"b": [2]}], "c": "x"})", 4), "");
  EXPECT_EQ(allm::json_depth_error(R"({"a": [1, {"b": [2]}], "c": "x"})", 3),
            "JSON nested more than 3 levels deep at line 1, column 17");
  EXPECT_EQ(allm::json_depth_error(""), "");
}

TEST(JsonDepth, RefusesDeeperNamingLineAndColumn) {
  EXPECT_EQ(allm::json_depth_error(nested(257)), "JSON nested more than 256 levels deep at line 1, column 257");
  EXPECT_EQ(allm::json_depth_error("{\n  \"a\": {\"b\": [1]}\n}", 2),
            "JSON nested more than 2 levels deep at line 2, column 14");
  // Siblings do not add up: depth is nesting, not the count of brackets.
  std::string siblings;
  for (int i = 0; i < 1000; ++i) siblings += "[[1]],";
  EXPECT_EQ(allm::json_depth_error("[" + siblings + "0]", 3), "");
}

TEST(JsonDepth, BracketsInsideStringsDoNotCount) {
  EXPECT_EQ(allm::json_depth_error("[\"" + std::string(1000, '[') + "\"]", 2), "");
  // An escaped quote does not end the string.
  EXPECT_EQ(allm::json_depth_error(R"(["\"[[[[", "\\"])", 1), "");
  EXPECT_NE(allm::json_depth_error(R"(["\\", [[1]]])", 2), "");
}

}  // namespace
