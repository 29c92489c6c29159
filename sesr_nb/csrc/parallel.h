// A parallel loop on XLA's intra-op thread pool (the pool an FFI handler receives as ffi::ThreadPool).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "xla/ffi/api/ffi.h"

namespace sesr {

namespace ffi = xla::ffi;

// The calling thread works too. Workers that start after every task is taken do nothing, so the
// caller waits only for the tasks themselves; the shared state outlives late workers.
struct LoopState {
  std::atomic<int64_t> next{0}, done{0};
  int64_t total = 0;
  std::function<void(int64_t task)> body;
};
static void run_tasks(const std::shared_ptr<LoopState>& s) {
  int64_t i, mine = 0;
  while ((i = s->next.fetch_add(1)) < s->total) { s->body(i); ++mine; }
  if (mine) s->done.fetch_add(mine);
}
static void parallel_for(ffi::ThreadPool& pool, int64_t total, std::function<void(int64_t)> body) {
  auto s = std::make_shared<LoopState>();
  s->total = total;
  s->body = std::move(body);
  const int64_t workers = std::min<int64_t>(std::max<int64_t>(pool.num_threads(), 1), total);
  for (int64_t t = 1; t < workers; ++t) pool.Schedule([s] { run_tasks(s); });
  run_tasks(s);
  while (s->done.load() < total) std::this_thread::yield();
}

}  // namespace sesr
