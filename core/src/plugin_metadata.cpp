#include "allm/host/plugin_metadata.hpp"

#include <elf.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "allm/error.hpp"
#include "allm/plugin.hpp"

namespace allm::host {

std::map<std::string, std::string> read_plugin_metadata(const std::filesystem::path& file) {
  auto fail = [&](const std::string& why) { return PluginLoadError(file.string() + ": " + why); };
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == ENOENT && !file.has_parent_path())
      throw fail(std::string("cannot open: ") + std::strerror(err) +
                 " (inspect takes a plugin file; 'allm plugins info NAME' shows a loaded plugin by name)");
    throw fail(std::string("cannot open: ") + std::strerror(err));
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto size = bytes.size();
  if (size < sizeof(Elf64_Ehdr) || std::memcmp(bytes.data(), ELFMAG, SELFMAG) != 0) throw fail("not an ELF file");
  if (bytes[EI_CLASS] != ELFCLASS64) throw fail("not a 64-bit ELF file");
  Elf64_Ehdr eh;
  std::memcpy(&eh, bytes.data(), sizeof eh);
  // Every offset is checked against the file size before use.
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > size ||
      eh.e_shnum > (size - eh.e_shoff) / sizeof(Elf64_Shdr) || eh.e_shstrndx >= eh.e_shnum)
    throw fail("corrupt ELF section table");
  auto section = [&](size_t i) {
    Elf64_Shdr sh;
    std::memcpy(&sh, bytes.data() + eh.e_shoff + i * sizeof(Elf64_Shdr), sizeof sh);
    return sh;
  };
  Elf64_Shdr names = section(eh.e_shstrndx);
  if (names.sh_offset > size || names.sh_size > size - names.sh_offset) throw fail("corrupt ELF section names");
  for (size_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh = section(i);
    if (sh.sh_name >= names.sh_size) continue;
    const char* name = bytes.data() + names.sh_offset + sh.sh_name;
    if (strnlen(name, names.sh_size - sh.sh_name) == names.sh_size - sh.sh_name) continue;
    if (std::strcmp(name, ALLM_PLUGIN_METADATA_SECTION) != 0) continue;
    if (sh.sh_offset > size || sh.sh_size > size - sh.sh_offset) throw fail("corrupt allm metadata section");
    std::string text(bytes.data() + sh.sh_offset, strnlen(bytes.data() + sh.sh_offset, sh.sh_size));
    std::map<std::string, std::string> out;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      auto eq = line.find('=');
      if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return out;
  }
  throw fail("no " ALLM_PLUGIN_METADATA_SECTION " section (not an allm plugin, or built without ALLM_DEFINE_PLUGIN)");
}

}  // namespace allm::host
