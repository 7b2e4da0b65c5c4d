# jkbms decode < INPUT: exit 0, a JSON object with cells, no error output.
execute_process(COMMAND ${CMD} decode --compact INPUT_FILE ${INPUT}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
  message(FATAL_ERROR "decode failed (${rc}): ${err}")
endif()
if(NOT out MATCHES "^\\{" OR NOT out MATCHES "\"cell_count\":16," OR NOT out MATCHES "\"checksum_ok\":true")
  message(FATAL_ERROR "unexpected output: ${out}")
endif()
