// ModelPolicy: which text encoders an HTTP client may name when it creates a
// collection. "model:DIR" makes the server read the folder DIR, so a client
// must not choose any folder it likes: only folders inside one the operator
// allowed (`flashembed serve --allow-model DIR`, repeatable) are accepted.
// The built-in hashing encoder ("hash") and vector-only collections ("")
// need no files and are always allowed. Other names read nothing and are
// left to the database to accept or refuse.
//
// Paths are compared after resolving symbolic links, "." and ".." (the
// allowed folders with std::filesystem::canonical, the requested one with
// weakly_canonical), component by component, so "model:/allowed/../etc" and
// a symlink out of an allowed folder are refused. A refused folder is
// refused whether or not it exists, so the answer reveals nothing about the
// server's files.
//
// Thread-safety: immutable after construction; Refusal() may run on many
// threads at once.
#ifndef FLASHEMBED_SERVER_MODEL_POLICY_H_
#define FLASHEMBED_SERVER_MODEL_POLICY_H_

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace flashembed::server {

class ModelPolicy {
 public:
  // `canonical_dirs` as returned by Canonicalize().
  explicit ModelPolicy(std::vector<std::string> canonical_dirs = {})
      : dirs_(std::move(canonical_dirs)) {}

  // The canonical form of each folder. InvalidArgument naming a path that
  // is not an existing folder.
  static Result<std::vector<std::string>> Canonicalize(const std::vector<std::string>& dirs);

  // "" when a client may create a collection with `encoder`; otherwise why
  // not (the message names --allow-model).
  std::string Refusal(std::string_view encoder) const;

  // The allowed folders, canonical.
  const std::vector<std::string>& dirs() const { return dirs_; }

 private:
  std::vector<std::string> dirs_;
};

}  // namespace flashembed::server

#endif  // FLASHEMBED_SERVER_MODEL_POLICY_H_
