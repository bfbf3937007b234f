# Runs `allm template TEMPLATE --jsonl INPUT` and compares stdout with EXPECTED.
execute_process(COMMAND "${ALLM}" template "${TEMPLATE}" --jsonl "${INPUT}"
                WORKING_DIRECTORY "${WORKDIR}" OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "allm template exited with ${rc}")
endif()
file(READ "${EXPECTED}" want)
if(NOT out STREQUAL want)
  message(FATAL_ERROR "batch output differs.\n--- got ---\n${out}\n--- want ---\n${want}")
endif()
