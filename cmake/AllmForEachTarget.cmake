# allm_for_each_target(<dir> <callback>)
#
# Calls <callback>(<target>) for every target that <dir> and the directories
# under it (add_subdirectory, recursively) define: a directory's own targets
# first, in the order they were added, then its subdirectories'. Call it once
# those directories are configured (a directory's targets as of the call).
# The one walk over the build tree: the top-level CMakeLists.txt (ALLM_UNITY's
# exclusions) and tests/CMakeLists.txt (ALLM_PCH for the tests) each give only
# what they do to one target.
function(allm_for_each_target dir callback)
  get_property(dir_targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
  foreach(dir_target IN LISTS dir_targets)
    cmake_language(CALL "${callback}" "${dir_target}")
  endforeach()
  get_property(dir_subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
  foreach(dir_subdir IN LISTS dir_subdirs)
    allm_for_each_target("${dir_subdir}" "${callback}")
  endforeach()
endfunction()
