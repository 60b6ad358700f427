#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/env.h"
#include "core/hashing.h"
#include "core/id_vocabulary.h"
#include "core/status.h"
#include "core/text_input.h"

namespace recserve {
namespace {

namespace fs = std::filesystem;

fs::path TempFile(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("recserve-core-test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  return dir / name;
}

TEST(Status, ResultCarriesValueOrError) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad = InvalidArgument("k must be within 1..200");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().ToString(), "invalid_argument: k must be within 1..200");
}

TEST(Hashing, Fnv1aMatchesReferenceVectors) {
  // Reference values of FNV-1a 64 (from the algorithm's published test vectors).
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

TEST(Hashing, Sha256OfStringAndFile) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  fs::path p = TempFile("abc.txt");
  std::ofstream(p) << "abc";
  auto h = Sha256File(p);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(*h, Sha256Hex("abc"));
  EXPECT_FALSE(Sha256File(TempFile("missing")).ok());
}

TEST(LineReader, ReadsPlainFileWithMixedEndings) {
  fs::path p = TempFile("plain.csv");
  std::ofstream(p) << "a,b\r\nc,d\nlast";
  LineReader r;
  ASSERT_TRUE(r.Open(p).ok());
  std::string line;
  std::vector<std::string> got;
  while (r.Next(line)) got.push_back(line);
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(got, (std::vector<std::string>{"a,b", "c,d", "last"}));
  EXPECT_EQ(r.line_number(), 3u);
}

TEST(LineReader, ReadsGzipAndDetectsTruncation) {
  fs::path p = TempFile("data.csv.gz");
  gzFile gz = gzopen(p.c_str(), "wb");
  std::string body;
  for (int i = 0; i < 50000; ++i) body += "user" + std::to_string(i) + ",item,1,1\n";
  gzwrite(gz, body.data(), static_cast<unsigned>(body.size()));
  gzclose(gz);

  LineReader r;
  ASSERT_TRUE(r.Open(p).ok());
  std::string line;
  int n = 0;
  while (r.Next(line)) ++n;
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(n, 50000);

  // Cut the compressed file in half: the reader must report corruption, not a clean end.
  auto size = fs::file_size(p);
  fs::resize_file(p, size / 2);
  LineReader t;
  ASSERT_TRUE(t.Open(p).ok());
  while (t.Next(line)) {
  }
  EXPECT_FALSE(t.status().ok());
  EXPECT_EQ(t.status().code(), StatusCode::kDataLoss);
}

// file_bytes_read() drives the pipeline's ETA for gzip input: it must count compressed bytes,
// grow as lines are read, and end at the file size, for gzip and plain files alike.
TEST(LineReader, FileBytesReadTracksCompressedOffset) {
  std::string body;
  uint64_t x = 88172645463325252ULL;  // xorshift: text that does not compress to nothing
  for (int i = 0; i < 200000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    body.append("u").append(std::to_string(x % 1000003));
    body.append(",i").append(std::to_string(x % 99991)).append(",1,1\n");
  }
  fs::path gz_path = TempFile("offset.csv.gz");
  gzFile gz = gzopen(gz_path.c_str(), "wb");
  gzwrite(gz, body.data(), static_cast<unsigned>(body.size()));
  gzclose(gz);
  fs::path plain_path = TempFile("offset.csv");
  std::ofstream(plain_path) << body;

  for (const fs::path& p : {gz_path, plain_path}) {
    const uint64_t size = fs::file_size(p);
    LineReader r;
    ASSERT_TRUE(r.Open(p).ok());
    EXPECT_EQ(r.file_bytes_read(), 0u);
    std::string line;
    ASSERT_TRUE(r.Next(line));
    const uint64_t early = r.file_bytes_read();
    EXPECT_GT(early, 0u) << p;
    EXPECT_LT(early, size) << p;
    uint64_t last = early;
    while (r.Next(line)) {
      ASSERT_GE(r.file_bytes_read(), last);
      last = r.file_bytes_read();
    }
    EXPECT_TRUE(r.status().ok());
    EXPECT_EQ(r.file_bytes_read(), size) << p;
    if (p == gz_path) {
      EXPECT_LT(size, r.bytes_read());  // compressed, not uncompressed, bytes
    }
  }
}

TEST(LineReader, RejectsOverlongLine) {
  fs::path p = TempFile("long.csv");
  {
    std::ofstream out(p);
    out << "ok\n" << std::string(5000, 'x') << "\nafter\n";
  }
  LineReader r;
  ASSERT_TRUE(r.Open(p, 1000).ok());
  std::string line;
  ASSERT_TRUE(r.Next(line));
  EXPECT_FALSE(r.Next(line));
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
}

TEST(Csv, SplitsQuotedFields) {
  std::vector<std::string> f;
  ASSERT_TRUE(SplitCsvLine(R"csv(1,"Shawshank Redemption, The (1994)",Drama)csv", f));
  EXPECT_EQ(f, (std::vector<std::string>{"1", "Shawshank Redemption, The (1994)", "Drama"}));
  ASSERT_TRUE(SplitCsvLine(R"(a,"say ""hi""",)", f));
  EXPECT_EQ(f, (std::vector<std::string>{"a", "say \"hi\"", ""}));
  EXPECT_FALSE(SplitCsvLine(R"(a,"unterminated)", f));
  EXPECT_FALSE(SplitCsvLine(R"(a,b"c)", f));
  EXPECT_EQ(CsvEscape("plain"), "plain");
  EXPECT_EQ(CsvEscape("a,\"b\""), "\"a,\"\"b\"\"\"");
}

TEST(Csv, PrintableExcerptEscapesBytesAndCuts) {
  EXPECT_EQ(PrintableExcerpt("user_id"), "user_id");
  EXPECT_EQ(PrintableExcerpt(std::string("a\xa1\n\\b", 5)), "a\\xa1\\x0a\\x5cb");
  EXPECT_EQ(PrintableExcerpt("abcdef", 3), "abc...");
}

TEST(IdVocabulary, InternsDenseIndicesAndOrdersNumericIds) {
  IdVocabulary v;
  EXPECT_EQ(v.Intern("42"), 0u);
  EXPECT_EQ(v.Intern("7"), 1u);
  EXPECT_EQ(v.Intern("42"), 0u);
  EXPECT_EQ(v.Find("7"), 1u);
  EXPECT_FALSE(v.Find("8").has_value());
  EXPECT_TRUE(AllDigitIds(v.names()));
  EXPECT_TRUE(IdLess("7", "42", true));
  EXPECT_FALSE(IdLess("7", "42", false));
}

// The open-addressing index must keep every id findable across its resizes, tell near-identical
// ids apart, and accept the empty string and embedded NULs as ordinary ids.
TEST(IdVocabulary, StaysConsistentAcrossGrowth) {
  IdVocabulary v;
  const uint32_t n = 50000;
  for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(v.Intern("id" + std::to_string(i)), i);
  for (uint32_t i = 0; i < n; ++i) {
    ASSERT_EQ(v.Find("id" + std::to_string(i)), i);
    ASSERT_EQ(v.Intern("id" + std::to_string(i)), i);
    ASSERT_EQ(v.Name(i), "id" + std::to_string(i));
  }
  EXPECT_FALSE(v.Find("id50000").has_value());
  EXPECT_FALSE(v.Find("id").has_value());
  EXPECT_EQ(v.Intern(""), n);
  EXPECT_EQ(v.Intern(std::string("a\0b", 3)), n + 1);
  EXPECT_FALSE(v.Find(std::string("a\0c", 3)).has_value());
  EXPECT_EQ(v.size(), n + 2);
  IdVocabulary empty;
  EXPECT_FALSE(empty.Find("x").has_value());
}

TEST(Env, ParsesTypedValuesAndRejectsGarbage) {
  setenv("RECSERVE_TEST_NUM", "0.01", 1);
  EXPECT_DOUBLE_EQ(*EnvDoubleOr("RECSERVE_TEST_NUM", 1.0), 0.01);
  setenv("RECSERVE_TEST_NUM", "fast", 1);
  EXPECT_FALSE(EnvDoubleOr("RECSERVE_TEST_NUM", 1.0).ok());
  unsetenv("RECSERVE_TEST_NUM");
  EXPECT_DOUBLE_EQ(*EnvDoubleOr("RECSERVE_TEST_NUM", 1.5), 1.5);
  setenv("RECSERVE_TEST_BOOL", "Off", 1);
  EXPECT_FALSE(*EnvBoolOr("RECSERVE_TEST_BOOL", true));
}

}  // namespace
}  // namespace recserve
