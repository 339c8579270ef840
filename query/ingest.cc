// The pipelined ingest of long documents (Collection::StartIngest):
//
//   Push ─► [queue] ─► chunk ─► [queue] ─► encode ─► [queue] ─► write
//
// chunk:  PrepareSource (tokenize and cut, skip unchanged documents, find
//         re-usable chunk vectors);
// encode: EncodeSources over batches of chunks gathered across documents,
//         so short documents still fill the encoder's batches;
// write:  CommitSources of up to write_batch whole documents per atomic
//         batch.
// Every queue is bounded, so memory stays flat however many documents are
// pushed, and the encoder — the expensive stage — runs while the others read,
// tokenize and write. A document that fails is reported and skipped; a
// failure of the write stage (I/O) stops the ingest.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "query/collection_impl.h"

namespace flashembed::query {
namespace {

// A blocking FIFO of at most `capacity` items.
template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}

  // False if the queue was closed.
  bool Push(T item) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }
  // nullopt once closed and drained. With `wait` false, also nullopt when
  // nothing is queued right now.
  std::optional<T> Pop(bool wait = true) {
    std::unique_lock<std::mutex> lock(mu_);
    if (wait) not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }
  bool Drained() const {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_ && items_.empty();
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<T> items_;
  bool closed_ = false;
};

using Prepared = CollectionImpl::PreparedSource;

class IngestImpl final : public DocumentIngest {
 public:
  IngestImpl(std::shared_ptr<CollectionImpl> collection, const IngestOptions& options,
             std::shared_ptr<const encoders::Chunker> chunker)
      : collection_(std::move(collection)),
        options_(options),
        chunker_(std::move(chunker)),
        input_(options.queue_documents),
        prepared_(options.queue_documents),
        encoded_(options.queue_documents),
        start_(std::chrono::steady_clock::now()) {
    chunk_thread_ = std::thread([this] { ChunkStage(); });
    encode_thread_ = std::thread([this] { EncodeStage(); });
    write_thread_ = std::thread([this] { WriteStage(); });
  }

  ~IngestImpl() override {
    if (!finished_) (void)Finish();
  }

  Status Push(SourceDocument doc) override {
    if (finished_) return Status::Cancelled("the ingest has finished");
    FE_RETURN_IF_ERROR(fatal());
    if (!input_.Push(std::move(doc))) {
      FE_RETURN_IF_ERROR(fatal());
      return Status::Cancelled("the ingest has finished");
    }
    return Status::OK();
  }

  void ReportError(DocumentError error) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++progress_.documents;
    ++progress_.failed;
    errors_.push_back(std::move(error));
  }

  IngestProgress Progress() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return progress_;
  }

  Result<IngestSummary> Finish() override {
    if (finished_.exchange(true)) return Status::Cancelled("Finish() was called already");
    input_.Close();
    chunk_thread_.join();
    encode_thread_.join();
    write_thread_.join();
    FE_RETURN_IF_ERROR(fatal());
    IngestSummary summary;
    {
      std::lock_guard<std::mutex> lock(mu_);
      summary.totals = progress_;
      summary.errors = std::move(errors_);
      summary.encode_seconds = encode_seconds_;
    }
    summary.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    return summary;
  }

 private:
  Status fatal() const {
    std::lock_guard<std::mutex> lock(mu_);
    return fatal_;
  }
  void Fail(Status s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (fatal_.ok()) fatal_ = std::move(s);
    }
    // Unblock everyone: producers see the error, stages drain and stop.
    input_.Close();
    prepared_.Close();
    encoded_.Close();
  }
  void Failed(const Prepared& p, const Status& s) { ReportError({p.doc.id, p.doc.source, s}); }

  void ChunkStage() {
    while (auto doc = input_.Pop()) {
      if (!fatal().ok()) continue;  // drain
      const std::string id = doc->id;
      const std::string source = doc->source;
      auto p = collection_->PrepareSource(std::move(*doc), *chunker_);
      if (!p.ok()) {
        ReportError({id, source, p.status()});
        continue;
      }
      if (!prepared_.Push(std::move(p).value())) break;
    }
    prepared_.Close();
  }

  void EncodeStage() {
    std::vector<Prepared> batch;
    size_t chunks = 0;
    auto flush = [&]() -> bool {
      if (batch.empty()) return true;
      std::vector<Prepared*> ptrs;
      uint64_t tokens = 0;
      for (Prepared& p : batch) {
        ptrs.push_back(&p);
        tokens += EncodedTokens(p);
      }
      const auto t0 = std::chrono::steady_clock::now();
      Status s = collection_->EncodeSources(ptrs);
      const double dt =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      {
        std::lock_guard<std::mutex> lock(mu_);
        encode_seconds_ += dt;
        progress_.tokens_encoded += tokens;
        progress_.chunks_encoded += chunks;
      }
      if (!s.ok()) {
        // One document's chunk failed to encode (rare): encode one by one
        // to keep the others.
        for (Prepared& p : batch) {
          Prepared* one[] = {&p};
          Status each = collection_->EncodeSources(one);
          if (!each.ok()) {
            Failed(p, each);
            continue;
          }
          if (!encoded_.Push(std::move(p))) return false;
        }
      } else {
        for (Prepared& p : batch) {
          if (!encoded_.Push(std::move(p))) return false;
        }
      }
      batch.clear();
      chunks = 0;
      return true;
    };
    for (;;) {
      // Wait for work only with an empty batch; otherwise take what is ready
      // and encode when the batch is full or nothing more is ready.
      std::optional<Prepared> p = prepared_.Pop(/*wait=*/batch.empty());
      if (!p) {
        if (!flush() || prepared_.Drained()) break;
        continue;
      }
      chunks += p->to_encode.size();
      batch.push_back(std::move(*p));
      if (chunks >= options_.encode_batch && !flush()) break;
    }
    encoded_.Close();
  }

  static uint64_t EncodedTokens(const Prepared& p) {
    uint64_t t = 0;
    for (size_t c : p.to_encode) t += p.chunks[c].token_count;
    return t;
  }

  void WriteStage() {
    for (;;) {
      std::optional<Prepared> first = encoded_.Pop();
      if (!first) break;
      std::vector<Prepared> batch;
      batch.push_back(std::move(*first));
      // Take what else is ready, up to write_batch documents with distinct
      // ids (the same document pushed twice goes into the next batch).
      std::optional<Prepared> held;
      while (batch.size() < options_.write_batch) {
        std::optional<Prepared> more = encoded_.Pop(/*wait=*/false);
        if (!more) break;
        bool dup = false;
        for (const Prepared& b : batch) dup = dup || b.doc.id == more->doc.id;
        if (dup) {
          held = std::move(more);
          break;
        }
        batch.push_back(std::move(*more));
      }
      if (!Write(batch)) return;
      if (held) {
        std::vector<Prepared> one;
        one.push_back(std::move(*held));
        if (!Write(one)) return;
      }
    }
    // Everything written: make it durable once, whatever options_.write said.
    if (fatal().ok() && !options_.write.sync && wrote_any_) {
      Status s = collection_->SyncWrites();
      if (!s.ok()) Fail(s);
    }
  }

  bool Write(std::vector<Prepared>& batch) {
    if (!fatal().ok()) return true;  // drain
    std::vector<Prepared*> ptrs;
    for (Prepared& p : batch) ptrs.push_back(&p);
    Status s = collection_->CommitSources(options_.write, *chunker_, ptrs);
    if (s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kAlreadyExists) {
      // A document the batch cannot take (say, a chunk id held by another
      // record): write one by one so only it fails.
      if (batch.size() == 1) {
        Failed(batch[0], s);
        return true;
      }
      for (Prepared& p : batch) {
        std::vector<Prepared> one;
        one.push_back(std::move(p));
        if (!Write(one)) return false;
      }
      return true;
    }
    if (!s.ok()) {
      Fail(s);
      return false;
    }
    wrote_any_ = true;
    std::lock_guard<std::mutex> lock(mu_);
    for (const Prepared& p : batch) {
      ++progress_.documents;
      progress_.bytes += p.record.bytes;
      switch (p.result.outcome) {
        case PutDocumentResult::Outcome::kAdded: ++progress_.added; break;
        case PutDocumentResult::Outcome::kReplaced: ++progress_.replaced; break;
        case PutDocumentResult::Outcome::kUnchanged: ++progress_.unchanged; break;
      }
      if (p.result.outcome != PutDocumentResult::Outcome::kUnchanged) {
        progress_.chunks += p.result.chunks;
      }
    }
    return true;
  }

  const std::shared_ptr<CollectionImpl> collection_;
  const IngestOptions options_;
  const std::shared_ptr<const encoders::Chunker> chunker_;
  BoundedQueue<SourceDocument> input_;
  BoundedQueue<Prepared> prepared_;
  BoundedQueue<Prepared> encoded_;
  const std::chrono::steady_clock::time_point start_;
  std::thread chunk_thread_;
  std::thread encode_thread_;
  std::thread write_thread_;
  std::atomic<bool> finished_{false};
  bool wrote_any_ = false;  // write thread only

  mutable std::mutex mu_;
  IngestProgress progress_;
  std::vector<DocumentError> errors_;
  double encode_seconds_ = 0;
  Status fatal_;
};

}  // namespace
}  // namespace flashembed::query

namespace flashembed {

Status IngestOptions::Validate() const {
  if (queue_documents < 1 || queue_documents > 65536) {
    return Status::InvalidArgument(
        fmt::format("queue_documents must be 1..65536, got {}", queue_documents));
  }
  if (encode_batch < 1 || encode_batch > 4096) {
    return Status::InvalidArgument(
        fmt::format("encode_batch must be 1..4096, got {}", encode_batch));
  }
  if (write_batch < 1 || write_batch > 4096) {
    return Status::InvalidArgument(fmt::format("write_batch must be 1..4096, got {}", write_batch));
  }
  return Status::OK();
}

}  // namespace flashembed

namespace flashembed::query {

Result<std::unique_ptr<DocumentIngest>> CollectionImpl::StartIngest(const IngestOptions& options) {
  FE_RETURN_IF_ERROR(options.Validate());
  FE_RETURN_IF_ERROR(CheckOpen());
  FE_RETURN_IF_ERROR(CheckWritable());
  FE_ASSIGN_OR_RETURN(auto chunker, MakeChunker(options.chunking));
  return std::unique_ptr<DocumentIngest>(
      new IngestImpl(shared_from_this(), options, std::move(chunker)));
}

}  // namespace flashembed::query
