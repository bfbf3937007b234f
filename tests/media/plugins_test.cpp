// The three media plugins loaded as shared objects, through the host's loader.
#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "allm/host/plugin_loader.hpp"
#include "allm/registry.hpp"
#include "media_fixtures.hpp"

using namespace media_test;

TEST(MediaPlugins, LoadRegisterAndServeAttachments) {
  allm::Registry::instance().clear();
  allm::host::PluginLoader loader(allm::Registry::instance());
  for (const char* file : {MEDIA_TEXT_PLUGIN, MEDIA_IMAGE_PLUGIN, MEDIA_PDF_PLUGIN}) {
    const auto& rec = loader.load_file(file, "test");
    ASSERT_TRUE(rec.loaded) << file << ": " << rec.reason;
    ASSERT_EQ(rec.components.size(), 1u);
    EXPECT_EQ(rec.components[0].kind, "media_handler");
  }
  auto handlers = allm::registered_media_handlers();
  ASSERT_EQ(handlers.size(), 3u);
  EXPECT_EQ(allm::load_attachment(data("code.py")).handler, "text");
  EXPECT_EQ(allm::load_attachment(data("pixels.png")).image.width, 4);
  EXPECT_NE(allm::load_attachment(data("two_pages.pdf")).text.find("Second page text."), std::string::npos);
  EXPECT_THROW(allm::load_attachment(data("blob.bin")), allm::MediaError);
  allm::Registry::instance().clear();
}
