#include "cleanmix/core/error.hpp"

#include <cstring>

namespace cleanmix {

std::string errnoText(int err) {
  char buf[256];
  // GNU strerror_r returns a char* that may or may not point into buf.
  const char* s = strerror_r(err, buf, sizeof buf);
  return s ? std::string(s) : std::string("errno ") + std::to_string(err);
}

}  // namespace cleanmix
