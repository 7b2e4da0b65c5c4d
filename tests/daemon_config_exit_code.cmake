# dbus-jkbms with a configuration file it refuses (issue 17 item 4):
#   run by hand: exit code 2, every error on stderr with its file and line, nothing else done;
#   with --publish-config-errors (the Venus run scripts): the file does not end it - the errors
#   are logged and it goes on with the defaults (here to a port that does not exist: exit 3);
#   without a port outside the file, exit 2 with the file's errors.
set(dir ${CMAKE_CURRENT_BINARY_DIR}/daemon_config_exit_code)
file(MAKE_DIRECTORY ${dir})
set(config ${dir}/bad.yaml)
file(WRITE ${config} "poll:\n  interval: soon\ncharge:\n  chemistry: lfp\n  bulk_cell_voltage: 9\n")
set(port ${dir}/no-such-port)

execute_process(COMMAND ${CMD} --config ${config} ${port}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 2)
  message(FATAL_ERROR "by hand: expected exit code 2, got ${rc}: ${out}${err}")
endif()
if(NOT err MATCHES "bad.yaml:2: " OR NOT err MATCHES "bad.yaml:5: ")
  message(FATAL_ERROR "by hand: both errors with their lines expected on stderr, got '${err}'")
endif()

execute_process(COMMAND ${CMD} --config ${config} --publish-config-errors /var/log/dbus-jkbms.x/current ${port}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 3)
  message(FATAL_ERROR "supervised: expected exit code 3 (the port), got ${rc}: ${out}${err}")
endif()
if(NOT out MATCHES "bad.yaml:2: " OR NOT out MATCHES "bad.yaml:5: " OR NOT out MATCHES "running on the defaults")
  message(FATAL_ERROR "supervised: the errors and the defaults expected in the log, got '${out}${err}'")
endif()

# Supervised, but no port outside the refused file (a fixed instance's file names its own):
# nothing to run on - exit 2, and the file's errors are still what it says.
execute_process(COMMAND ${CMD} --config ${config} --publish-config-errors /var/log/dbus-jkbms.x/current
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 2 OR NOT err MATCHES "bad.yaml:2: " OR NOT err MATCHES "no serial port")
  message(FATAL_ERROR "supervised without a port: expected exit code 2 with the errors, got ${rc}: '${out}${err}'")
endif()
file(REMOVE_RECURSE ${dir})
