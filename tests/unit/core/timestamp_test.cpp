#include "core/timestamp.h"

#include <gtest/gtest.h>

#include <string>

namespace recserve {
namespace {

TEST(ParseTimestamp, AcceptsEveryFormOfTheGrammar) {
  struct Case {
    const char* text;
    int64_t seconds;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"0", 0},
           {"881250949", 881250949},
           {"000000000001", 1},             // 12 digits, leading zeros allowed
           {"999999999999", 999999999999},  // the most digits allowed
           {"1970-01-01", 0},
           {"2025-01-01", 1735689600},
           {"1969-12-31", -86400},  // before 1970: negative
           {"2023-11-14T22:13:20Z", 1700000000},
           {"2023-11-14T22:13:20", 1700000000},  // no zone: UTC
           {"2023-11-14 22:13:20", 1700000000},  // a space for T
           {"2023-11-14T22:13", 1699999980},     // hh:mm
           {"2023-11-14T22:13Z", 1699999980},
           {"2023-11-14T22:13:20.1Z", 1700000000},  // fraction truncated
           {"2023-11-14T22:13:20.123456789Z", 1700000000},
           {"2023-11-14 22:13:20.999", 1700000000},
           {"2023-11-15T00:13:20+02:00", 1700000000},
           {"2023-11-14T20:13:20-02:00", 1700000000},
           {"2023-11-14T21:13:20-0100", 1700000000},  // ±hhmm
           {"2023-11-14T23:13:20+0100", 1700000000},
           {"2024-03-01T07:30:00-04:30", 1709294400},
           {"2023-11-14T22:13:20.5+01:00", 1699996400},
           {"2016-12-31T23:59:60Z", 1483228800},  // a leap second is the next minute's :00
           {"2025-01-01T00:00:00.123456789+01:00", 1735686000},  // the longest form, 35 bytes
       }) {
    Result<int64_t> parsed = ParseTimestamp(c.text);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.status().ToString();
    EXPECT_EQ(*parsed, c.seconds) << c.text;
  }
}

TEST(ParseTimestamp, RefusesWithTheTextAndTheRuleInTheMessage) {
  for (const char* bad : {
           "yesterday",
           "n/a",
           "-5",
           "-",
           "+5",
           "1.5",
           " 1",
           "1 ",
           "17356x8960",
           "9999999999999",           // 13 digits
           "9999999999999999999999",  // and far more
           "2023-13-01",
           "2023-00-10",
           "2023-11-00",
           "2023-02-30",
           "2023-04-31",
           "2025-1-1",
           "2025-01-01X",
           "2025-01-01T",
           "2025-01-01t10:00",
           "2025-01-01T1:00",
           "2025-01-01T10",
           "2023-11-14T25:00:00Z",
           "2025-01-01T24:00",
           "2025-01-01T10:61",
           "2025-01-01T10:00:61",
           "2025-01-01T10:00:",
           "2025-01-01T10:00:0",
           "2025-01-01T10:00:00.",
           "2025-01-01T10:00:00.1234567890",  // 10 fraction digits
           "2025-01-01T10:00.5",              // a fraction needs seconds
           "2023-11-14T22:13:20Q",
           "2025-01-01T10:00:00z",
           "2025-01-01T10:00:00Zjunk",
           "2025-01-01T10:00:00+2",
           "2025-01-01T10:00:00+02:0",
           "2025-01-01T10:00:00+02:000",
           "2025-01-01T10:00:00+24:00",
           "2025-01-01T10:00:00+01:60",
           "2025-01-01T10:00:00+01-00",
           "2025-01-01Z",                           // a zone needs a time
           "2025-01-01T00:00:00.123456789+01:00 ",  // 36 bytes
       }) {
    Result<int64_t> parsed = ParseTimestamp(bad);
    ASSERT_FALSE(parsed.ok()) << bad << " gave " << *parsed;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(std::string(bad).substr(0, kMaxTimestampLength)),
              std::string::npos)
        << parsed.status().message();
  }
  EXPECT_EQ(ParseTimestamp("").status().code(), StatusCode::kInvalidArgument);
}

TEST(ParseTimestamp, RefusesAbsurdLengthsBeforeReadingThem) {
  const std::string huge(1 << 20, '1');
  Result<int64_t> parsed = ParseTimestamp(huge);
  ASSERT_FALSE(parsed.ok());
  EXPECT_LT(parsed.status().message().size(), 100u);  // the message quotes a bounded excerpt
}

// Found by fuzz/csv_row_fuzzer: February 29 of a common year used to become March 1.
TEST(ParseTimestamp, February29OnlyInLeapYears) {
  EXPECT_EQ(*ParseTimestamp("2024-02-29"), 1709164800);
  EXPECT_EQ(*ParseTimestamp("2000-02-29"), 951782400);  // divisible by 400
  EXPECT_FALSE(ParseTimestamp("2023-02-29").ok());
  EXPECT_FALSE(ParseTimestamp("1900-02-29T00:00:00Z").ok());  // divisible by 100, not 400
  EXPECT_FALSE(ParseTimestamp("2100-02-29").ok());
  EXPECT_FALSE(ParseTimestamp("2024-02-30").ok());
  EXPECT_TRUE(IsLeapYear(2024));
  EXPECT_TRUE(IsLeapYear(2000));
  EXPECT_FALSE(IsLeapYear(1900));
  EXPECT_FALSE(IsLeapYear(2023));
}

TEST(DaysFromCivil, KnownDates) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
  EXPECT_EQ(DaysFromCivil(2024, 2, 29) + 1, DaysFromCivil(2024, 3, 1));
  EXPECT_EQ(DaysFromCivil(2023, 2, 28) + 1, DaysFromCivil(2023, 3, 1));
  EXPECT_EQ(DaysFromCivil(0, 1, 1), -719528);
}

TEST(FormatIsoUtc, FormatsAndRoundTripsThroughParse) {
  EXPECT_EQ(FormatIsoUtc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatIsoUtc(1700000000), "2023-11-14T22:13:20Z");
  EXPECT_EQ(FormatIsoUtc(1735689600), "2025-01-01T00:00:00Z");
  for (int64_t t : {0LL, 1LL, 59LL, 86399LL, 951782400LL, 1709164800LL, 1709294399LL, 4102444799LL,
                    253402300799LL}) {
    Result<int64_t> back = ParseTimestamp(FormatIsoUtc(t));
    ASSERT_TRUE(back.ok()) << FormatIsoUtc(t);
    EXPECT_EQ(*back, t) << FormatIsoUtc(t);
  }
  // Every day of a leap year and a common year survives the round trip.
  for (int64_t t = DaysFromCivil(2023, 1, 1) * 86400; t < DaysFromCivil(2025, 1, 1) * 86400;
       t += 86400 + 3661) {
    EXPECT_EQ(*ParseTimestamp(FormatIsoUtc(t)), t) << FormatIsoUtc(t);
  }
}

TEST(FormatUtc, TakesAStrftimePattern) {
  EXPECT_EQ(FormatUtc(1700000000, "%Y%m%dT%H%M%SZ"), "20231114T221320Z");
  EXPECT_EQ(FormatUtc(1700000000, kIsoUtcFormat), FormatIsoUtc(1700000000));
}

}  // namespace
}  // namespace recserve
