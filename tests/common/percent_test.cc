#include "common/percent.h"

#include <gtest/gtest.h>

namespace regfs {

TEST(PercentEncode, KeepsUnreservedAndEncodesEveryOtherByteInUpperCaseHex) {
  EXPECT_EQ(percentEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(percentEncode("a b/c?d"), "a%20b%2Fc%3Fd");
  EXPECT_EQ(percentEncode(std::string("\0\xff\xc3\xa9", 4)), "%00%FF%C3%A9");
  EXPECT_EQ(percentEncode(""), "");
}

TEST(PercentEncode, KeepsTheCharactersAskedFor) {
  EXPECT_EQ(percentEncode("etc/os release", "/"), "etc/os%20release");
  EXPECT_EQ(percentEncode("a+b|c%", "+|"), "a+b|c%25");
}

}  // namespace regfs
