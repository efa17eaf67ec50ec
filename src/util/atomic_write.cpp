#include "util/atomic_write.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "util/error.h"
#include "util/progress.h"

namespace mmfree {

namespace {
void fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Passes every write on to the file and counts it into the progress line.
class CountingBuf : public std::streambuf {
 public:
  CountingBuf(std::streambuf* to, Progress& progress) : to_(to), progress_(progress) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    const std::streamsize written = to_->sputn(s, n);
    progress_.add(static_cast<double>(written));
    return written;
  }
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    progress_.add(1);
    return to_->sputc(traits_type::to_char_type(c));
  }
  pos_type seekoff(off_type off, std::ios_base::seekdir dir, std::ios_base::openmode which) override {
    return to_->pubseekoff(off, dir, which);  // tellp() of writers that check what they wrote
  }
  int sync() override { return to_->pubsync(); }

 private:
  std::streambuf* to_;
  Progress& progress_;
};
}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& fill,
                           int64_t expected_bytes, const std::function<void(const std::string&)>& verify) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  Progress progress("writing " + std::filesystem::path(path).filename().string(), static_cast<double>(expected_bytes), "B");
  {
    std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
    if (!file) throw Error(path + ": cannot create " + tmp + ": " + std::strerror(errno));
    CountingBuf counting(file.rdbuf(), progress);
    std::ostream counted(&counting);
    std::ostream& out = progress_enabled() ? counted : file;  // no detour when nobody watches
    try {
      fill(out);
    } catch (...) {
      file.close();
      std::remove(tmp.c_str());
      throw;
    }
    out.flush();
    file.flush();
    if (!out || !file) {
      std::remove(tmp.c_str());
      throw Error(path + ": write failed (disk full?)");
    }
  }
  fsync_path(tmp, false);
  if (verify) {
    try {
      verify(tmp);
    } catch (...) {
      std::remove(tmp.c_str());
      throw;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    std::remove(tmp.c_str());
    throw Error(path + ": cannot rename into place: " + std::strerror(e));
  }
  auto dir = std::filesystem::path(path).parent_path();
  fsync_path(dir.empty() ? "." : dir.string(), true);
}

}  // namespace mmfree
