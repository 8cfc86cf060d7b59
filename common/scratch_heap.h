// Runs allocation-heavy, short-lived work (parsing an inventory, compiling a plan) on a thread of
// its own and waits for it. glibc gives that thread another malloc arena, so the work's scratch
// never lands between the daemon's long-lived objects: when it is freed, its pages empty out
// whole and malloc_trim hands them back. On one heap, thousands of compiles under churn left the
// long-lived objects spread over pages they no longer filled (script.soak: +4 MiB resident with
// the heap in use flat). The caller copies what it keeps onto its own heap; anything returned by
// move stays on the scratch arena until freed.
#pragma once

#include <future>
#include <utility>

namespace bulkhead {

template <class F>
auto on_scratch_heap(F&& work) {
  return std::async(std::launch::async, std::forward<F>(work)).get();
}

}  // namespace bulkhead
