// BackendPool: what lets several threads call one loaded model at once. A model's weights are
// immutable after load and shared by every call; what a call mutates (a backend's attention
// scratch, its cached GEMM primitives, its sampling buffers; on a GPU its stream) belongs to a
// backend, and each call leases a whole backend for its duration. The pool makes backends on
// demand, up to `max_backends`, and keeps them for later calls: a model used from N threads ends up
// with N backends, each warmed by the calls it served. A call that finds none idle and the pool at
// its maximum waits for one.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace t5 {

template <class B>
class BackendPool {
 public:
  /// `first` is the backend the weights were loaded with; `make` builds another like it.
  BackendPool(std::unique_ptr<B> first, std::function<std::unique_ptr<B>()> make, std::size_t max_backends)
      : make_(std::move(make)), max_(max_backends), made_(1) {
    idle_.push_back(std::move(first));
  }

  /// A backend held for one call; returned to the pool when the lease ends.
  class Lease {
   public:
    Lease(BackendPool& pool, std::unique_ptr<B> backend) : pool_(&pool), backend_(std::move(backend)) {}
    Lease(Lease&&) = delete;
    ~Lease() { pool_->give_back(std::move(backend_)); }
    B& operator*() const noexcept { return *backend_; }
    B* operator->() const noexcept { return backend_.get(); }

   private:
    BackendPool* pool_;
    std::unique_ptr<B> backend_;
  };

  /// An idle backend, a new one when none is idle and the pool may grow, else the next returned.
  Lease lease() {
    std::unique_lock lock(mutex_);
    while (idle_.empty() && made_ >= max_) returned_.wait(lock);
    if (!idle_.empty()) {
      std::unique_ptr<B> b = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(b));
    }
    ++made_;
    lock.unlock();
    try {
      return Lease(*this, make_());
    } catch (...) {
      std::lock_guard relock(mutex_);
      --made_;
      returned_.notify_one();
      throw;
    }
  }

  /// The first backend, before any call: what the model's constructor loads weights with.
  B& first() { return *idle_.front(); }

 private:
  void give_back(std::unique_ptr<B> b) {
    {
      std::lock_guard lock(mutex_);
      idle_.push_back(std::move(b));
    }
    returned_.notify_one();
  }

  std::function<std::unique_ptr<B>()> make_;
  std::size_t max_;
  std::size_t made_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<B>> idle_;
};

}  // namespace t5
