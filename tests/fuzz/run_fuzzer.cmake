# run_fuzzer.cmake - one fuzzer run under ctest (see CMakeLists.txt).
#   cmake -DFUZZER=BIN -DSEEDS=DIR -DWORK=DIR -DSECONDS=N [-DFLAGS="..."] \
#     [-DGEN=SEED_GENERATOR] [-DMORE_SEEDS=DIR] -P run_fuzzer.cmake
# Starts from a fresh copy of the seeds in WORK/corpus (new inputs go
# there; the committed seeds are never written) plus, with GEN, the seeds
# it writes to WORK/generated and those in MORE_SEEDS (read only), and
# fails on any finding:
# libFuzzer exits non-zero, or left a crash/leak/timeout/oom input in
# WORK/artifacts.
foreach(var FUZZER SEEDS WORK SECONDS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzzer.cmake: -D${var}=... is required")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/corpus" "${WORK}/artifacts")
file(GLOB seeds "${SEEDS}/*")
if(NOT seeds)
  message(FATAL_ERROR "no seeds in ${SEEDS}")
endif()
file(COPY ${seeds} DESTINATION "${WORK}/corpus")
set(dirs "${WORK}/corpus")
if(GEN)
  file(MAKE_DIRECTORY "${WORK}/generated")
  execute_process(COMMAND "${GEN}" "${WORK}/generated" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${GEN} failed (exit ${rc})")
  endif()
  list(APPEND dirs "${WORK}/generated")
endif()
if(MORE_SEEDS)
  list(APPEND dirs "${MORE_SEEDS}")
endif()
separate_arguments(flags UNIX_COMMAND "${FLAGS}")

# Fuzz, then replay every input kept (each reached something new) once
# more with leak checks on: a target may turn per-input leak checks off
# for speed (FLAGS -detect_leaks=0) and is still checked on those.
execute_process(
  COMMAND "${FUZZER}" -max_total_time=${SECONDS} -rss_limit_mb=2048 -timeout=10
          -print_final_stats=1 ${flags} "-artifact_prefix=${WORK}/artifacts/" ${dirs}
  RESULT_VARIABLE rc)
if(rc EQUAL 0)
  execute_process(
    COMMAND "${FUZZER}" -runs=0 -rss_limit_mb=2048 -timeout=10 ${flags} -detect_leaks=1
            "-artifact_prefix=${WORK}/artifacts/" ${dirs}
    RESULT_VARIABLE rc)
endif()
file(GLOB findings "${WORK}/artifacts/*")
if(NOT rc EQUAL 0 OR findings)
  message(FATAL_ERROR "${FUZZER} found a problem (exit ${rc}): ${findings}")
endif()
