# imgclass - top-level entry points. `make check` and `make demo` install missing Debian
# packages first (scripts/deps.sh), then configure and build with CMake into build/.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build deps check check-asan check-valgrind demo bench bench-profile bench-schedules clean \
	reproduce reproduce-scratch reproduce-features reproduce-finetune fuzz fuzz-corpus

all: build

deps:
	@./scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

# The normal suite, then the suite under AddressSanitizer + UndefinedBehaviorSanitizer.
# In check the sanitized half leaves out the two longest tests (test_faults_all, which
# fails every allocation in turn and takes ~8 minutes under ASan, and
# test_kill_checkpoint, which is about crash safety, not memory); `make check-asan` runs
# everything. CHECK_ASAN=0 skips the sanitized half.
CHECK_ASAN ?= 1
CHECK_ASAN_EXCLUDE ?= test_faults_all|test_kill_checkpoint

check: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -LE slow
ifneq ($(CHECK_ASAN),0)
	$(MAKE) --no-print-directory check-asan ASAN_CTEST_ARGS="-E '$(CHECK_ASAN_EXCLUDE)'"
endif

check-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIMGCLASS_SANITIZE=ON \
	    -DIMGCLASS_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 \
	    LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp \
	    ctest --output-on-failure -j$(JOBS) -LE slow $(ASAN_CTEST_ARGS)

# valgrind (memcheck) over the CLI on a tiny generated dataset: train 1 epoch of the small
# convnet at 48x48, then predict. Not part of check (slow). Third-party noise (libgomp,
# oneDNN's JIT, fontconfig/cairo caches) is suppressed by scripts/valgrind.supp.
VG_DIR ?= $(BUILD)/valgrind
VALGRIND ?= valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --suppressions=$(CURDIR)/scripts/valgrind.supp \
	--gen-suppressions=all

check-valgrind: build
	rm -rf $(VG_DIR) && mkdir -p $(VG_DIR)
	$(BUILD)/tests/ic_fixture_gen $(VG_DIR)/data --train 4 --val 2 --test 2 >/dev/null
	cd $(VG_DIR) && IC_NUM_THREADS=2 $(VALGRIND) $(CURDIR)/$(BUILD)/imgclass train data -o m.h5 \
	    --target-size 48x48 --batch-size 4 --epochs 1
	cd $(VG_DIR) && IC_NUM_THREADS=2 $(VALGRIND) $(CURDIR)/$(BUILD)/imgclass predict m.h5 \
	    data/test
	@echo "check-valgrind: no leaks or invalid accesses"

# Feature extraction + a brief fine-tune + test accuracy on cats vs dogs (scripts/demo.sh:
# data from $IMGCLASS_DATA or ../shared/data/cats_and_dogs_small, results in results/demo).
demo: build
	./scripts/demo.sh $(BUILD)

# The book's three techniques on real photos (not part of check): from scratch,
# feature extraction (cached features at 150x150 and the base's native 224x224, and with
# augmentation), fine-tuning. Results in results/<technique>/ and results/summary.tsv,
# reported in docs/results.md. The scratch run keeps the book's 100 epochs, the
# pretrained runs use fewer (about 100 minutes in all on 2 cores); REPRO_FULL=1 runs the
# book's epochs everywhere. See scripts/reproduce.sh.
reproduce: build
	./scripts/reproduce.sh $(BUILD) scratch features finetune

reproduce-scratch: build
	./scripts/reproduce.sh $(BUILD) scratch

reproduce-features: build
	./scripts/reproduce.sh $(BUILD) features

reproduce-finetune: build
	./scripts/reproduce.sh $(BUILD) finetune

bench: build
	./scripts/bench.sh $(BUILD)

# Where the time of each benchmark step goes (oneDNN's verbose log summed per pass).
bench-profile: build
	./scripts/bench_profile.sh $(BUILD)

# The book's VGG16 schedules on the real photos, a few epochs each, extrapolated.
bench-schedules: build
	./scripts/bench_schedules.sh $(BUILD)

# libFuzzer (clang): builds the harnesses of tests/fuzz into $(FUZZ_BUILD) and runs each for
# FUZZ_SECONDS from the committed seed corpus tests/fuzz/corpus/<target> (new inputs go
# to $(FUZZ_BUILD)/corpus/<target>, crashes to $(FUZZ_BUILD)/artifacts/<target>/). A crash
# stops the run; fix it and copy the input to tests/fuzz/regressions/<target>/ (replayed
# by `make check`). docs/security.md.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= image keras_weights model_file config cli_args
FUZZ_FLAGS ?=

fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DIMGCLASS_FUZZ=ON -DIMGCLASS_BUILD_TESTS=OFF -DIMGCLASS_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts/$$t; \
	    echo "== fuzz_$$t: $(FUZZ_SECONDS) s"; \
	    $(FUZZ_BUILD)/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=30 \
	        -rss_limit_mb=4096 -close_fd_mask=3 -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t/ $(FUZZ_FLAGS) \
	        $$(test -f tests/fuzz/$$t.dict && echo -dict=tests/fuzz/$$t.dict) \
	        $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t; \
	done

# Regenerates the seed corpus with ic_make_corpus (tests/fuzz/make_corpus.c).
fuzz-corpus: build
	$(BUILD)/tests/ic_make_corpus tests/fuzz/corpus

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
