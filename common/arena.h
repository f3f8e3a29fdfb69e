// A bump allocator that owns the AST. Nodes must be trivially destructible: they hold
// spans and string_views into the arena or into SourceManager buffers, never owners.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

namespace btap {

class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  void* Allocate(size_t size, size_t align) {
    size_t pos = (used_ + align - 1) & ~(align - 1);
    if (chunks_.empty() || pos + size > capacity_) {
      size_t want = size + align > kChunk ? size + align : kChunk;
      chunks_.push_back(std::make_unique<std::byte[]>(want));
      capacity_ = want;
      pos = 0;
      // Chunk memory from new[] is aligned for any fundamental type.
    }
    used_ = pos + size;
    bytes_ += size;
    return chunks_.back().get() + pos;
  }

  template <typename T, typename... Args>
  T* New(Args&&... args) {
    static_assert(std::is_trivially_destructible_v<T>, "arena objects are never destroyed");
    return new (Allocate(sizeof(T), alignof(T))) T(std::forward<Args>(args)...);
  }

  template <typename T>
  std::span<T> Copy(const std::vector<T>& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (v.empty()) return {};
    T* p = static_cast<T*>(Allocate(sizeof(T) * v.size(), alignof(T)));
    std::memcpy(static_cast<void*>(p), v.data(), sizeof(T) * v.size());
    return {p, v.size()};
  }

  std::string_view Copy(std::string_view s) {
    if (s.empty()) return {};
    char* p = static_cast<char*>(Allocate(s.size(), 1));
    std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
  }

  size_t bytes_allocated() const { return bytes_; }

 private:
  static constexpr size_t kChunk = 64 * 1024;
  std::vector<std::unique_ptr<std::byte[]>> chunks_;
  size_t used_ = 0;
  size_t capacity_ = 0;
  size_t bytes_ = 0;
};

}  // namespace btap
