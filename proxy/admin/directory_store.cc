#include "proxy/admin/directory_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace shardgate::proxy {

namespace {

absl::Status os_error(const std::string& what, const std::string& path) {
  return absl::InternalError(what + " " + path + ": " + std::strerror(errno));
}

std::string folder_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

absl::Status write_file_atomically(const std::string& path, const std::string& contents) {
  static std::atomic<uint64_t> counter{0};
  std::string temp =
      path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return os_error("cannot create", temp);
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      auto status = os_error("cannot write", temp);
      ::close(fd);
      ::unlink(temp.c_str());
      return status;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    auto status = os_error("cannot fsync", temp);
    ::close(fd);
    ::unlink(temp.c_str());
    return status;
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    auto status = os_error("cannot rename into", path);
    ::unlink(temp.c_str());
    return status;
  }
  // The rename itself must survive a crash: fsync the folder that holds the entry.
  std::string folder = folder_of(path);
  int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return absl::OkStatus();
}

}  // namespace shardgate::proxy
