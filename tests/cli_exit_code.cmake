# jkbms decode on a frame with a wrong checksum: exit code 2 and a one-line message that
# names both checksum values.
execute_process(COMMAND ${CMD} decode 4e5700130000000006030000000000006800000128
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 2)
  message(FATAL_ERROR "expected exit code 2, got ${rc}")
endif()
if(NOT err MATCHES "^jkbms decode: nw: bad checksum: computed 0x129, frame has 0x128\n$")
  message(FATAL_ERROR "unexpected message: '${err}'")
endif()
if(NOT out STREQUAL "")
  message(FATAL_ERROR "nothing should be printed on stdout, got '${out}'")
endif()
