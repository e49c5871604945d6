# ic_cli_lib: the imgclass command's sources as a static library with main() renamed, so
# fuzz_cli_args (and its replay in tests/unit/test_fuzz_regressions.c) can call the
# option parsers (tr_parse, ic_cli_aug_opt, ic_cli_parse_shape, ...) without a process.
# Included from tests/CMakeLists.txt and tests/fuzz/CMakeLists.txt.
if(NOT TARGET ic_cli_lib)
  file(GLOB IC_CLI_LIB_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/cli/*.c)
  # Source properties are per directory: the imgclass executable's main.c is unaffected.
  set_source_files_properties(${CMAKE_SOURCE_DIR}/cli/main.c PROPERTIES
    COMPILE_DEFINITIONS main=ic_cli_main_for_tests)
  add_library(ic_cli_lib STATIC ${IC_CLI_LIB_SOURCES})
  target_include_directories(ic_cli_lib PUBLIC ${CMAKE_SOURCE_DIR}/cli PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_compile_definitions(ic_cli_lib PRIVATE IC_VERSION_STRING="${PROJECT_VERSION}")
  target_link_libraries(ic_cli_lib PUBLIC imgclass_static)
endif()
