# The layering check (docs/layering.md). Included last by the top-level CMakeLists.txt, once
# every target exists: it lists each herald target's sources and links in
# ${CMAKE_BINARY_DIR}/layering_targets.txt, and adds a check (cmake/check_layering.py) that every
# herald target's compilation waits for, so a cross-layer #include fails `ninja` before anything
# compiles. New targets and directories are picked up by themselves; a new library needs a row
# in docs/layering.md.

function(_herald_collect dir)
  file(RELATIVE_PATH rel_dir ${PROJECT_SOURCE_DIR} ${dir})
  if(NOT rel_dir STREQUAL "" AND NOT rel_dir STREQUAL "packaging")
    set_property(GLOBAL APPEND PROPERTY HERALD_LAYERING_DIRS ${rel_dir})
  endif()
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(t ${targets})
    get_target_property(type ${t} TYPE)
    if(NOT type MATCHES "^(STATIC_LIBRARY|SHARED_LIBRARY|OBJECT_LIBRARY|INTERFACE_LIBRARY|EXECUTABLE)$")
      continue()
    endif()
    get_target_property(src_dir ${t} SOURCE_DIR)
    get_target_property(sources ${t} SOURCES)
    if(type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(links ${t} INTERFACE_LINK_LIBRARIES)
    else()
      get_target_property(links ${t} LINK_LIBRARIES)
      set_property(GLOBAL APPEND PROPERTY HERALD_LAYERING_COMPILED ${t})
    endif()
    set(rel_sources "")
    foreach(s ${sources})
      cmake_path(ABSOLUTE_PATH s BASE_DIRECTORY ${src_dir} NORMALIZE)
      cmake_path(IS_PREFIX PROJECT_SOURCE_DIR ${s} NORMALIZE inside)
      if(inside)
        set_property(GLOBAL APPEND PROPERTY HERALD_LAYERING_SOURCES ${s})
        file(RELATIVE_PATH r ${PROJECT_SOURCE_DIR} ${s})
        list(APPEND rel_sources ${r})
      endif()
    endforeach()
    if(NOT links)
      set(links "")
    endif()
    string(REPLACE ";" "," rel_sources "${rel_sources}")
    string(REPLACE ";" "," links "${links}")
    set_property(GLOBAL APPEND PROPERTY HERALD_LAYERING_LINES "${t}\t${type}\t${rel_sources}\t${links}")
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    _herald_collect(${sub})
  endforeach()
endfunction()

_herald_collect(${PROJECT_SOURCE_DIR})
get_property(_herald_lines GLOBAL PROPERTY HERALD_LAYERING_LINES)
get_property(_herald_sources GLOBAL PROPERTY HERALD_LAYERING_SOURCES)
get_property(_herald_dirs GLOBAL PROPERTY HERALD_LAYERING_DIRS)
get_property(_herald_compiled GLOBAL PROPERTY HERALD_LAYERING_COMPILED)

string(REPLACE ";" "\n" _herald_text "${_herald_lines}")
file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/layering_targets.txt CONTENT "${_herald_text}\n" @ONLY)
list(REMOVE_DUPLICATES _herald_sources)

set(HERALD_LAYERING_STAMP ${CMAKE_BINARY_DIR}/layering.stamp)
add_custom_command(
  OUTPUT ${HERALD_LAYERING_STAMP}
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/cmake/check_layering.py
          --root ${PROJECT_SOURCE_DIR}
          --targets ${CMAKE_BINARY_DIR}/layering_targets.txt
          --table ${PROJECT_SOURCE_DIR}/docs/layering.md
          --dirs "${_herald_dirs}"
          --stamp ${HERALD_LAYERING_STAMP}
  DEPENDS ${PROJECT_SOURCE_DIR}/cmake/check_layering.py ${PROJECT_SOURCE_DIR}/docs/layering.md
          ${CMAKE_BINARY_DIR}/layering_targets.txt ${_herald_sources}
  COMMENT "Checking the layering of #includes (docs/layering.md)"
  VERBATIM)
add_custom_target(herald_layering ALL DEPENDS ${HERALD_LAYERING_STAMP})
foreach(t ${_herald_compiled})
  add_dependencies(${t} herald_layering)
endforeach()
