#include "datagen/timestamps.h"

#include <gtest/gtest.h>

namespace recserve::datagen {
namespace {

TEST(ParseTimestamp, AcceptsUnixSecondsAndIsoForms) {
  EXPECT_EQ(*ParseTimestamp("1735689600"), 1735689600);
  EXPECT_EQ(*ParseTimestamp("0"), 0);
  EXPECT_EQ(*ParseTimestamp("2025-01-01"), 1735689600);
  EXPECT_EQ(*ParseTimestamp("2025-01-01T00:00:00Z"), 1735689600);
  EXPECT_EQ(*ParseTimestamp("2025-01-01T00:00:00"), 1735689600);
  EXPECT_EQ(*ParseTimestamp("2025-01-01 00:00"), 1735689600);
  EXPECT_EQ(*ParseTimestamp("2024-03-01T12:00:00Z"), 1709294400);
  EXPECT_EQ(*ParseTimestamp("2024-03-01T14:00:00+02:00"), 1709294400);
  EXPECT_EQ(*ParseTimestamp("2024-03-01T07:30:00-04:30"), 1709294400);
  EXPECT_EQ(*ParseTimestamp("2024-02-29"), 1709164800);  // leap day
  EXPECT_EQ(*ParseTimestamp("1970-01-01T00:00:01Z"), 1);
}

TEST(ParseTimestamp, RejectsMalformedTextWithItInTheMessage) {
  for (const char* bad :
       {"", "yesterday", "17356x8960", "2025-13-01", "2025-02-30", "2023-02-29", "2025-01-01T25:00",
        "2025-01-01T10:61", "2025-01-01X", "2025-01-01T10:00:00+2", "2025-01-01T10:00:00Zjunk", "-",
        "9999999999999999", "2025-1-1"}) {
    Result<int64_t> r = ParseTimestamp(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    if (*bad != '\0') {
      EXPECT_NE(r.status().message().find(bad), std::string::npos) << bad;
    }
  }
}

TEST(FormatIsoUtc, RoundTripsThroughParse) {
  EXPECT_EQ(FormatIsoUtc(1735689600), "2025-01-01T00:00:00Z");
  for (int64_t t : {0LL, 1LL, 951782400LL, 1709164800LL, 1709294399LL, 4102444799LL}) {
    EXPECT_EQ(*ParseTimestamp(FormatIsoUtc(t)), t) << FormatIsoUtc(t);
  }
}

TEST(DaysFromCivil, KnownDates) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
}

}  // namespace
}  // namespace recserve::datagen
