# allm_add_plugin(<target> SOURCES <src>... [LIBS <lib>...])
#
# Builds one plugin shared object linked against the SDK's contract library
# (liballm-sdk) and whatever LIBS adds: allm::engine for an architecture
# plugin or an engine-backed provider, allm::jinja for chat templates. A media
# handler, tokenizer or remote provider needs neither. Used in-tree and,
# installed with the SDK, by out-of-tree plugins after find_package(allm-sdk).
function(allm_add_plugin target)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${target} MODULE ${ARG_SOURCES})
  if(TARGET allm-sdk)
    target_link_libraries(${target} PRIVATE allm-sdk ${ARG_LIBS})
  else()
    target_link_libraries(${target} PRIVATE allm::sdk ${ARG_LIBS})
  endif()
  # Only the entry symbol needs to be visible.
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(DEFINED ALLM_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY "${ALLM_PLUGIN_OUTPUT_DIR}"
      BUILD_RPATH "$ORIGIN/../.."
      INSTALL_RPATH "$ORIGIN/../..")
    install(TARGETS ${target} LIBRARY DESTINATION "${ALLM_PLUGIN_SUBDIR}")
    set_property(GLOBAL APPEND PROPERTY ALLM_PLUGIN_TARGETS ${target})
  endif()
endfunction()
