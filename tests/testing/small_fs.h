// SmallFs: a tmpfs of a few MiB that only this test sees, to fill up or
// make read-only without touching the machine's filesystems.
//
//   flashembed::testing::SmallFs fs(8 << 20);
//   if (!fs.ok()) GTEST_SKIP() << fs.error();
//   auto db = Database::Open({}, fs.Sub("db"));   // lives on the tmpfs
//   ASSERT_TRUE(fs.Fill());                        // no free byte left
//   fs.Free();                                     // space back
//   ASSERT_TRUE(fs.SetReadOnly(true));             // remount read-only
//
// How: a child process unshares its mount namespace (as root; else inside
// a new user namespace), mounts the tmpfs on a fresh folder and waits for
// commands (remount read-only / read-write) on a pipe. This process, and
// the processes it starts, reach the mount through /proc/<child>/root/...,
// which resolves paths in the child's namespace; nothing is mounted in
// ours. The child exits, and the tmpfs goes, when the SmallFs is destroyed.
// Needs only the standard library and POSIX (the tool tests, which have no
// include path into the source tree, include it too).
#ifndef FLASHEMBED_TESTS_TESTING_SMALL_FS_H_
#define FLASHEMBED_TESTS_TESTING_SMALL_FS_H_

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

namespace flashembed::testing {

class SmallFs {
 public:
  // Mounts a tmpfs of `bytes` (rounded up to pages). ok() tells whether it
  // worked; error() says why not (a reason to skip the test).
  explicit SmallFs(size_t bytes) { Start(bytes); }

  ~SmallFs() {
    if (child_ > 0) {
      ::close(command_);
      ::close(reply_);
      int status = 0;
      ::waitpid(child_, &status, 0);
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  SmallFs(const SmallFs&) = delete;
  SmallFs& operator=(const SmallFs&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // The mount point as this process (and its children) reach it.
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

  uint64_t FreeBytes() const {
    struct statvfs st {};
    if (::statvfs(path_.c_str(), &st) != 0) return 0;
    return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  }

  // Writes the file "filler" until the filesystem has no free block left
  // (true), keeping `keep_bytes` free when asked to. Adds to an earlier fill.
  bool Fill(uint64_t keep_bytes = 0) {
    const std::string filler = Sub("filler");
    const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    static const std::string chunk(64 << 10, 'f');
    bool full = false;
    for (;;) {
      const uint64_t free = FreeBytes();
      if (free <= keep_bytes) {
        full = true;
        break;
      }
      const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk.size(), free - keep_bytes));
      const ssize_t written = ::write(fd, chunk.data(), n);
      if (written < 0) {
        full = errno == ENOSPC && keep_bytes == 0;
        break;
      }
    }
    ::close(fd);
    return full;
  }

  // Removes the filler file: the space Fill() took is free again.
  void Free() { ::unlink(Sub("filler").c_str()); }

  // Remounts the tmpfs read-only (or read-write again). Fails (false) while
  // a file on it is open for writing.
  bool SetReadOnly(bool read_only) {
    const char command = read_only ? 'r' : 'w';
    if (::write(command_, &command, 1) != 1) return false;
    int result = 0;
    return ReadFull(reply_, &result, sizeof(result)) && result == 0;
  }

 private:
  static bool ReadFull(int fd, void* out, size_t n) {
    char* p = static_cast<char*>(out);
    while (n > 0) {
      const ssize_t got = ::read(fd, p, n);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      p += got;
      n -= static_cast<size_t>(got);
    }
    return true;
  }

  // Child side (after fork: system calls and prepared buffers only). The
  // result (0 or an errno, and which step failed) goes to `reply`.
  [[noreturn]] static void Child(int command, int reply, const char* mount_point,
                                 const char* mount_options, const char* uid_map,
                                 const char* gid_map) {
    auto fail = [&](int step) {
      int result[2] = {errno == 0 ? EINVAL : errno, step};
      (void)!::write(reply, result, sizeof(result));
      ::_exit(1);
    };
    errno = 0;
    if (::unshare(CLONE_NEWNS) != 0) {
      // Not root: a user namespace, mapping our ids, may mount a tmpfs.
      if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) fail(1);
      const int setgroups = ::open("/proc/self/setgroups", O_WRONLY | O_CLOEXEC);
      if (setgroups >= 0) {
        (void)!::write(setgroups, "deny", 4);
        ::close(setgroups);
      }
      const int um = ::open("/proc/self/uid_map", O_WRONLY | O_CLOEXEC);
      if (um < 0 || ::write(um, uid_map, std::strlen(uid_map)) < 0) fail(2);
      ::close(um);
      const int gm = ::open("/proc/self/gid_map", O_WRONLY | O_CLOEXEC);
      if (gm < 0 || ::write(gm, gid_map, std::strlen(gid_map)) < 0) fail(2);
      ::close(gm);
    }
    // Mounts below stay in this namespace.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail(3);
    if (::mount("tmpfs", mount_point, "tmpfs", MS_NOSUID | MS_NODEV, mount_options) != 0) fail(4);
    int ok[2] = {0, 0};
    if (::write(reply, ok, sizeof(ok)) != sizeof(ok)) ::_exit(1);
    char c = 0;
    while (::read(command, &c, 1) == 1) {
      unsigned long flags = MS_REMOUNT | MS_NOSUID | MS_NODEV;
      if (c == 'r') flags |= MS_RDONLY;
      int result = ::mount("tmpfs", mount_point, "tmpfs", flags, mount_options) == 0 ? 0 : errno;
      if (::write(reply, &result, sizeof(result)) != sizeof(result)) ::_exit(1);
    }
    ::_exit(0);  // the command pipe closed: the test is done
  }

  void Start(size_t bytes) {
    const char* base = ::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/flashembed-fs-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      error_ = "cannot create a folder like " + pattern + ": " + std::strerror(errno);
      return;
    }
    dir_ = pattern;
    const std::string mount_point = dir_ + "/fs";
    if (::mkdir(mount_point.c_str(), 0755) != 0) {
      error_ = "cannot create " + mount_point + ": " + std::strerror(errno);
      return;
    }
    const std::string options = "size=" + std::to_string(bytes) + ",mode=0755";
    const std::string uid_map = "0 " + std::to_string(::getuid()) + " 1\n";
    const std::string gid_map = "0 " + std::to_string(::getgid()) + " 1\n";
    int to_child[2], from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) {
      error_ = std::string("pipe: ") + std::strerror(errno);
      return;
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
      error_ = std::string("fork: ") + std::strerror(errno);
      return;
    }
    if (pid == 0) {
      ::close(to_child[1]);
      ::close(from_child[0]);
      Child(to_child[0], from_child[1], mount_point.c_str(), options.c_str(), uid_map.c_str(),
            gid_map.c_str());
    }
    child_ = pid;
    ::close(to_child[0]);
    ::close(from_child[1]);
    command_ = to_child[1];
    reply_ = from_child[0];
    int result[2] = {0, 0};
    if (!ReadFull(reply_, result, sizeof(result))) {
      error_ = "the mounting child exited without an answer";
      return;
    }
    if (result[0] != 0) {
      static const char* const kSteps[] = {"", "unshare(CLONE_NEWNS), or with CLONE_NEWUSER",
                                           "writing the user namespace's id maps",
                                           "making / private", "mounting a tmpfs"};
      error_ = std::string("cannot mount a private tmpfs for this test (") +
               kSteps[result[1] >= 1 && result[1] <= 4 ? result[1] : 0] +
               "): " + std::strerror(result[0]);
      return;
    }
    path_ = "/proc/" + std::to_string(pid) + "/root" + mount_point;
    struct statvfs st {};
    if (::statvfs(path_.c_str(), &st) != 0 || st.f_blocks * st.f_frsize > 2 * bytes + (1 << 20)) {
      error_ = "the private tmpfs is not reachable through " + path_;
    }
  }

  std::string dir_;  // holds the mount point (empty in our namespace)
  std::string path_;
  std::string error_;
  pid_t child_ = -1;
  int command_ = -1;
  int reply_ = -1;
};

}  // namespace flashembed::testing

#endif  // FLASHEMBED_TESTS_TESTING_SMALL_FS_H_
