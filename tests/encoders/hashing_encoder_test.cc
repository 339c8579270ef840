#include "encoders/hashing_encoder.h"

#include <cmath>
#include <cstdint>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "base/status.h"
#include "encoders/encoder.h"

namespace flashembed::encoders {
namespace {

::testing::AssertionResult IsOk(const Status& status) {
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << status;
}

std::unique_ptr<TextEncoder> MakeEncoder(int dim = 0) {
  auto encoder = NewTextEncoder("hash", dim);
  EXPECT_TRUE(IsOk(encoder.status()));
  return std::move(encoder).value();
}

std::unique_ptr<HashingEncoder> MakeHashing(const HashingEncoder::Options& options) {
  auto encoder = HashingEncoder::Create(options);
  EXPECT_TRUE(IsOk(encoder.status()));
  return std::move(encoder).value();
}

std::vector<float> Encode(const TextEncoder& encoder, std::string_view text) {
  std::vector<float> out(static_cast<size_t>(encoder.dim()));
  const std::string_view texts[] = {text};
  const Status status = encoder.Encode(texts, out);
  EXPECT_TRUE(IsOk(status)) << "text: " << text;
  return out;
}

// Rows are unit length, so the dot product is the cosine.
double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0.0;
  for (size_t i = 0; i < a.size(); ++i) dot += static_cast<double>(a[i]) * b[i];
  return dot;
}

double Norm(std::span<const float> v) {
  double sq = 0.0;
  for (float x : v) sq += static_cast<double>(x) * x;
  return std::sqrt(sq);
}

double Similarity(const TextEncoder& encoder, std::string_view a, std::string_view b) {
  return Cosine(Encode(encoder, a), Encode(encoder, b));
}

Status EncodeStatus(const TextEncoder& encoder, std::vector<std::string_view> texts) {
  std::vector<float> out(texts.size() * static_cast<size_t>(encoder.dim()));
  return encoder.Encode(texts, out);
}

// ---------------------------------------------------------------------------
// Construction and spec
// ---------------------------------------------------------------------------

TEST(HashingEncoder, DefaultEncoderAndSpec) {
  auto encoder = MakeEncoder();
  EXPECT_EQ(encoder->dim(), 384);
  EXPECT_EQ(encoder->spec(), "hash/v1;dim=384;char=3-5;word=1-2;cjk=1-2");
  EXPECT_EQ(MakeEncoder(-7)->dim(), 384);
  EXPECT_EQ(MakeEncoder(768)->spec(), "hash/v1;dim=768;char=3-5;word=1-2;cjk=1-2");
}

TEST(HashingEncoder, NewTextEncoderRejectsBadDimAndName) {
  for (int dim : {1, 7, 65537, 1 << 30}) {
    auto encoder = NewTextEncoder("hash", dim);
    ASSERT_FALSE(encoder.ok()) << dim;
    EXPECT_TRUE(encoder.status().IsInvalidArgument());
    EXPECT_NE(encoder.status().message().find("dim"), std::string::npos);
    EXPECT_NE(encoder.status().message().find(std::to_string(dim)), std::string::npos);
  }
  EXPECT_TRUE(NewTextEncoder("hash", 8).ok());
  EXPECT_TRUE(NewTextEncoder("hash", 65536).ok());
  auto unknown = NewTextEncoder("bert", 384);
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(unknown.status().IsInvalidArgument());
  EXPECT_NE(unknown.status().message().find("bert"), std::string::npos);
}

TEST(HashingEncoder, OptionsValidate) {
  EXPECT_TRUE(IsOk(HashingEncoder::Options{}.Validate()));
  auto invalid = [](auto mutate) {
    HashingEncoder::Options options;
    mutate(options);
    return options.Validate().IsInvalidArgument();
  };
  EXPECT_TRUE(invalid([](auto& o) { o.dim = 0; }));
  EXPECT_TRUE(invalid([](auto& o) { o.char_ngram_min = 0; }));
  EXPECT_TRUE(invalid([](auto& o) { o.char_ngram_min = 4, o.char_ngram_max = 3; }));
  EXPECT_TRUE(invalid([](auto& o) { o.char_ngram_max = 9; }));
  EXPECT_TRUE(invalid([](auto& o) { o.word_ngram_max = 0; }));
  EXPECT_TRUE(invalid([](auto& o) { o.word_ngram_max = 4; }));
  EXPECT_TRUE(invalid([](auto& o) { o.cjk_ngram_max = 0; }));
  EXPECT_TRUE(invalid([](auto& o) { o.segment_bytes = 0; }));
  EXPECT_FALSE(HashingEncoder::Create(HashingEncoder::Options{.dim = 4}).ok());
}

TEST(HashingEncoder, SpecRoundTripGivesIdenticalVectors) {
  HashingEncoder::Options options;
  options.dim = 128;
  options.char_ngram_min = 2;
  options.char_ngram_max = 4;
  options.word_ngram_max = 3;
  options.cjk_ngram_max = 3;
  auto original = MakeHashing(options);
  const std::string spec = original->spec();
  EXPECT_EQ(spec, "hash/v1;dim=128;char=2-4;word=1-3;cjk=1-3");

  auto restored = TextEncoderFromSpec(spec);
  ASSERT_TRUE(IsOk(restored.status()));
  EXPECT_EQ((*restored)->spec(), spec);
  EXPECT_EQ((*restored)->dim(), 128);
  for (std::string_view text : {"The quick brown fox jumps over the lazy dog.",
                                "机器学习是人工智能的一个分支", "東京タワーに行きました", "!!!"}) {
    EXPECT_EQ(Encode(*original, text), Encode(**restored, text)) << text;
  }

  // The default encoder round-trips too.
  auto default_encoder = MakeEncoder();
  auto default_restored = TextEncoderFromSpec(default_encoder->spec());
  ASSERT_TRUE(IsOk(default_restored.status()));
  EXPECT_EQ(Encode(*default_encoder, "hello world"), Encode(**default_restored, "hello world"));
}

TEST(HashingEncoder, SpecKeysInAnyOrderAndDefaults) {
  auto reordered = TextEncoderFromSpec("hash/v1;cjk=1-2;word=1-2;char=3-5;dim=384");
  ASSERT_TRUE(IsOk(reordered.status()));
  EXPECT_EQ((*reordered)->spec(), "hash/v1;dim=384;char=3-5;word=1-2;cjk=1-2");
  auto partial = TextEncoderFromSpec("hash/v1;dim=96");
  ASSERT_TRUE(IsOk(partial.status()));
  EXPECT_EQ((*partial)->spec(), "hash/v1;dim=96;char=3-5;word=1-2;cjk=1-2");
  auto bare = TextEncoderFromSpec("hash/v1");
  ASSERT_TRUE(IsOk(bare.status()));
  EXPECT_EQ((*bare)->spec(), MakeEncoder()->spec());
}

TEST(HashingEncoder, UnknownSpecsAreNotSupported) {
  for (std::string_view spec :
       {"hash/v2;dim=384;char=3-5;word=1-2;cjk=1-2", "hash/v0", "bert/v2;dim=384", "bert",
        "word2vec/v1;dim=300", "hash/v1;dim=384;lang=en"}) {
    auto encoder = TextEncoderFromSpec(spec);
    ASSERT_FALSE(encoder.ok()) << spec;
    EXPECT_EQ(encoder.status().code(), StatusCode::kNotSupported) << encoder.status();
    EXPECT_NE(encoder.status().message().find(std::string(spec)), std::string::npos)
        << encoder.status();
  }
}

TEST(HashingEncoder, MalformedSpecsAreInvalidArgument) {
  for (std::string_view spec : {"",
                                "hash",
                                "/v1",
                                "hash/",
                                "hash;dim=384",
                                "hash/v1;",
                                "hash/v1;;dim=384",
                                "hash/v1;dim",
                                "hash/v1;dim=",
                                "hash/v1;dim=abc",
                                "hash/v1;dim=-5",
                                "hash/v1;dim=+5",
                                "hash/v1;dim=384x",
                                "hash/v1;dim=99999999999999",
                                "hash/v1;dim=4",
                                "hash/v1;dim=100000",
                                "hash/v1;char=5-3",
                                "hash/v1;char=3",
                                "hash/v1;char=0-5",
                                "hash/v1;char=3-9",
                                "hash/v1;word=2-3",
                                "hash/v1;word=1-4",
                                "hash/v1;cjk=1",
                                "hash/v1;dim=384;dim=384",
                                "hash/v1;dim = 384"}) {
    auto encoder = TextEncoderFromSpec(spec);
    ASSERT_FALSE(encoder.ok()) << spec;
    EXPECT_TRUE(encoder.status().IsInvalidArgument()) << spec << " -> " << encoder.status();
  }
}

// ---------------------------------------------------------------------------
// Vectors
// ---------------------------------------------------------------------------

TEST(HashingEncoder, UnitNormAndDimRespected) {
  for (int dim : {8, 64, 384, 1000}) {
    auto encoder = MakeEncoder(dim);
    for (std::string_view text :
         {"hello", "a", "The quick brown fox jumps over the lazy dog.", "机器学习",
          "東京タワーに行きました", "ภาษาไทยไม่มีการเว้นวรรค", "Привет, мир", "🍕🍕 + $5", "!!!",
          "x = 1 + 2", "Ünïcödé çömbïnïng"}) {
      const std::vector<float> v = Encode(*encoder, text);
      ASSERT_EQ(v.size(), static_cast<size_t>(dim));
      EXPECT_NEAR(Norm(v), 1.0, 1e-5) << "dim " << dim << " text " << text;
      for (float x : v) ASSERT_TRUE(std::isfinite(x));
    }
  }
}

TEST(HashingEncoder, BatchRowsMatchSingleEncodes) {
  auto encoder = MakeEncoder(64);
  const std::vector<std::string_view> texts = {"first text", "机器学习", "third, longer text here"};
  std::vector<float> batch(texts.size() * 64);
  ASSERT_TRUE(IsOk(encoder->Encode(texts, batch)));
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<float> row(batch.begin() + i * 64, batch.begin() + (i + 1) * 64);
    EXPECT_EQ(row, Encode(*encoder, texts[i])) << i;
  }
  // An empty batch is fine.
  EXPECT_TRUE(IsOk(encoder->Encode({}, {})));
}

TEST(HashingEncoder, DeterministicAcrossInstances) {
  auto a = MakeEncoder();
  auto b = MakeEncoder();
  for (std::string_view text : {"Deterministic output, please.", "今天天气很好"}) {
    EXPECT_EQ(Encode(*a, text), Encode(*a, text));
    EXPECT_EQ(Encode(*a, text), Encode(*b, text));
  }
}

// Pins hash/v1: if this fails, stored vectors would silently change meaning.
// Bump the spec version instead of updating the constants.
TEST(HashingEncoder, FrozenV1Fingerprint) {
  auto encoder = MakeEncoder(64);
  auto fingerprint = [&](std::string_view text) {
    const std::vector<float> v = Encode(*encoder, text);
    int64_t sum = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      sum += static_cast<int64_t>(i + 1) * std::llround(static_cast<double>(v[i]) * 1e4);
    }
    return sum;
  };
  EXPECT_EQ(fingerprint("hello world"), -678441);
  EXPECT_EQ(fingerprint("机器学习"), 137506);
}

TEST(HashingEncoder, CaseFoldingAndNfkc) {
  auto encoder = MakeEncoder();
  const std::vector<float> hello = Encode(*encoder, "hello world");
  EXPECT_EQ(Encode(*encoder, "Hello World"), hello);
  EXPECT_EQ(Encode(*encoder, "HELLO WORLD"), hello);
  EXPECT_EQ(Encode(*encoder, "Ｈｅｌｌｏ　Ｗｏｒｌｄ"), hello);  // full-width + ideographic space
  EXPECT_EQ(Encode(*encoder, "hello world!"), hello);            // punctuation only as a fallback
  EXPECT_EQ(Encode(*encoder, "  hello\t\nworld  "), hello);
  EXPECT_EQ(Encode(*encoder, "ﬁne"), Encode(*encoder, "fine"));         // ligature
  EXPECT_EQ(Encode(*encoder, "Straße"), Encode(*encoder, "STRASSE"));   // full case folding
  EXPECT_EQ(Encode(*encoder, "café"), Encode(*encoder, "cafe\u0301"));  // composed == decomposed
  EXPECT_EQ(Encode(*encoder, "hy\u00ADphen"), Encode(*encoder, "hyphen"));  // soft hyphen ignored
  EXPECT_EQ(Encode(*encoder, "ＡＢＣ１２３"), Encode(*encoder, "abc123"));
  EXPECT_EQ(Encode(*encoder, "ｶﾀｶﾅ"), Encode(*encoder, "カタカナ"));  // half-width katakana
  EXPECT_NE(Encode(*encoder, "café"), Encode(*encoder, "cafe"));      // accents are kept
}

TEST(HashingEncoder, RelatedEnglishTextsScoreHigher) {
  auto encoder = MakeEncoder();
  const double related = Similarity(*encoder, "machine learning models", "deep learning models");
  const double unrelated =
      Similarity(*encoder, "machine learning models", "the weather is nice today");
  EXPECT_GT(related, unrelated + 0.2) << related << " vs " << unrelated;
  // Character n-grams relate inflections.
  EXPECT_GT(Similarity(*encoder, "learning", "learned"),
            Similarity(*encoder, "learning", "weather"));
  EXPECT_GT(Similarity(*encoder, "databases", "database"), 0.4);
  // Word order matters a little (bigrams), not much.
  const double reordered = Similarity(*encoder, "new york city", "city new york");
  EXPECT_GT(reordered, 0.7);
  EXPECT_LT(reordered, 1.0 - 1e-6);
}

TEST(HashingEncoder, RelatedChineseAndJapaneseTextsScoreHigher) {
  auto encoder = MakeEncoder();
  const double related = Similarity(*encoder, "机器学习", "深度学习");
  const double unrelated = Similarity(*encoder, "机器学习", "今天天气很好");
  EXPECT_GT(related, 0.3);
  EXPECT_GT(related, unrelated + 0.3) << related << " vs " << unrelated;
  EXPECT_GT(Similarity(*encoder, "我喜欢机器学习", "机器学习很有趣"),
            Similarity(*encoder, "我喜欢机器学习", "明天会下雨"));
  EXPECT_GT(Similarity(*encoder, "東京の天気は晴れです", "京都の天気は雨です"),
            Similarity(*encoder, "東京の天気は晴れです", "機械学習の研究"));
  // Thai is also written without spaces.
  EXPECT_GT(Similarity(*encoder, "ภาษาไทย", "ภาษาอังกฤษ"),
            Similarity(*encoder, "ภาษาไทย", "สวัสดีครับ"));
}

TEST(HashingEncoder, MixedScriptsShareFeatures) {
  auto encoder = MakeEncoder();
  EXPECT_GT(Similarity(*encoder, "iPhone很好用", "iPhone"), 0.3);
  EXPECT_GT(Similarity(*encoder, "iPhone很好用", "很好"), 0.2);
}

TEST(HashingEncoder, PunctuationAndSymbolsOnly) {
  auto encoder = MakeEncoder();
  const std::vector<float> bang = Encode(*encoder, "!!!");
  EXPECT_NEAR(Norm(bang), 1.0, 1e-5);
  EXPECT_NE(bang, Encode(*encoder, "???"));
  EXPECT_EQ(bang, Encode(*encoder, "! ! !"));
  EXPECT_NEAR(Norm(Encode(*encoder, "🍕")), 1.0, 1e-5);
  EXPECT_NE(Encode(*encoder, "I like 🍕"), Encode(*encoder, "I like 🍣"));
  EXPECT_NEAR(Norm(Encode(*encoder, "。、「」")), 1.0, 1e-5);
}

// At dim 8 two equally weighted features often share a bucket with opposite
// signs and cancel exactly; the encoder must still return a unit vector.
TEST(HashingEncoder, SignCancellationStillGivesUnitVector) {
  auto encoder = MakeEncoder(8);
  const std::string punctuation = "!\"#%&'()*,-./:;?@[\\]_{}";
  for (size_t i = 0; i < punctuation.size(); ++i) {
    for (size_t j = i + 1; j < punctuation.size(); ++j) {
      const std::string text = {punctuation[i], punctuation[j]};
      const std::vector<float> v = Encode(*encoder, text);
      for (float x : v) ASSERT_TRUE(std::isfinite(x)) << text;
      EXPECT_NEAR(Norm(v), 1.0, 1e-5) << text;
    }
  }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

void ExpectInvalidAt(const TextEncoder& encoder, std::vector<std::string_view> texts, size_t index,
                     std::string_view detail) {
  const Status status = EncodeStatus(encoder, texts);
  ASSERT_TRUE(status.IsInvalidArgument()) << status;
  const std::string prefix = "text " + std::to_string(index) + ":";
  EXPECT_EQ(status.message().rfind(prefix, 0), 0u) << status;
  EXPECT_NE(status.message().find(detail), std::string::npos) << status;
}

TEST(HashingEncoder, EmptyAndFeaturelessTextsAreRejectedWithIndex) {
  auto encoder = MakeEncoder();
  ExpectInvalidAt(*encoder, {"ok", ""}, 1, "empty");
  ExpectInvalidAt(*encoder, {"ok", "fine", " \t\r\n "}, 2, "nothing to encode");
  ExpectInvalidAt(*encoder, {std::string_view("\x01\x02\0", 3)}, 0, "nothing to encode");
  ExpectInvalidAt(*encoder, {"\u3000\u00A0\u2028"}, 0, "nothing to encode");  // Unicode spaces
  ExpectInvalidAt(*encoder, {"\u200B\u00AD"}, 0, "nothing to encode");        // default-ignorable
  ExpectInvalidAt(*encoder, {"\uE000"}, 0, "nothing to encode");              // private use
}

TEST(HashingEncoder, InvalidUtf8IsRejectedWithIndexAndOffset) {
  auto encoder = MakeEncoder();
  ExpectInvalidAt(*encoder, {"fine", "abc\xff"}, 1, "invalid UTF-8 at byte 3");
  ExpectInvalidAt(*encoder, {"\xC0\x80"}, 0, "invalid UTF-8 at byte 0");        // overlong NUL
  ExpectInvalidAt(*encoder, {"ab\xED\xA0\x80"}, 0, "invalid UTF-8 at byte 2");  // surrogate
  ExpectInvalidAt(*encoder, {"机器\xE5\xAD"}, 0, "invalid UTF-8 at byte 6");    // truncated
  ExpectInvalidAt(*encoder, {"\xF4\x90\x80\x80"}, 0, "invalid UTF-8");          // > U+10FFFF
}

TEST(HashingEncoder, OutputSizeMismatchIsInvalidArgument) {
  auto encoder = MakeEncoder(16);
  const std::string_view texts[] = {"a", "b"};
  std::vector<float> out(31);
  const Status status = encoder->Encode(texts, out);
  EXPECT_TRUE(status.IsInvalidArgument()) << status;
  EXPECT_NE(status.message().find("32"), std::string::npos) << status;
}

// ---------------------------------------------------------------------------
// Long input
// ---------------------------------------------------------------------------

std::string LongMultilingualText(size_t min_bytes) {
  std::string text;
  const char* pieces[] = {"The quick brown fox jumps over the lazy dog. ",
                          "机器学习是人工智能的一个分支。",
                          "cafe\u0301 de\u0301ja\u0300 vu ",
                          "東京タワーに行きました。",
                          "ภาษาไทย ",
                          "Ｆｕｌｌｗｉｄｔｈ ",
                          "🍕 $5 + 3 = 8; ",
                          "Straße ﬁne "};
  for (size_t i = 0; text.size() < min_bytes; ++i) {
    text += pieces[i % std::size(pieces)];
    text += std::to_string(i % 97);
  }
  return text;
}

TEST(HashingEncoder, VeryLongInputIsUnitNorm) {
  auto encoder = MakeEncoder();
  const std::string text = LongMultilingualText(1 << 20);  // 1 MiB
  const std::vector<float> v = Encode(*encoder, text);
  EXPECT_NEAR(Norm(v), 1.0, 1e-5);
  EXPECT_GT(Similarity(*encoder, text, "the quick brown fox and 机器学习"),
            Similarity(*encoder, text, "zebras play the xylophone"));
}

// Normalising in pieces (to bound memory) must not change a single bit.
TEST(HashingEncoder, SegmentSizeDoesNotChangeOutput) {
  const std::string text = LongMultilingualText(200000);
  const std::string invalid_late = text + "\xff";
  HashingEncoder::Options options;
  std::vector<float> reference;
  for (size_t segment_bytes :
       {size_t{1} << 30, size_t{64} << 10, size_t{1000}, size_t{7}, size_t{1}}) {
    options.segment_bytes = segment_bytes;
    auto encoder = MakeHashing(options);
    const std::vector<float> v = Encode(*encoder, text);
    if (reference.empty()) {
      reference = v;
    } else {
      EXPECT_EQ(v, reference) << "segment_bytes " << segment_bytes;
    }
    const Status status = EncodeStatus(*encoder, {invalid_late});
    EXPECT_TRUE(status.IsInvalidArgument()) << status;
    EXPECT_NE(status.message().find("byte " + std::to_string(text.size())), std::string::npos)
        << status;
  }
}

// With word=1-1 the feature multiset does not depend on word order, so a
// text with many distinct, repeated features (forcing several growths of the
// counting table) must encode identically in any order.
TEST(HashingEncoder, TermCountsAreOrderIndependent) {
  HashingEncoder::Options options;
  options.word_ngram_max = 1;
  auto encoder = MakeHashing(options);
  std::vector<std::string> words;
  for (int i = 0; i < 40000; ++i) words.push_back("w" + std::to_string(i % 15000 * 7919 % 100003));
  std::string forward;
  std::string backward;
  for (size_t i = 0; i < words.size(); ++i) {
    forward += words[i] + " ";
    backward += words[words.size() - 1 - i] + " ";
  }
  EXPECT_EQ(Encode(*encoder, forward), Encode(*encoder, backward));
}

// ---------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------

TEST(HashingEncoder, ConcurrentEncodesAreIdentical) {
  auto encoder = MakeEncoder();
  const std::vector<std::string_view> texts = {"hello world", "机器学习与深度学习",
                                               "東京タワーに行きました", "!!!",
                                               "A somewhat longer sentence, with punctuation."};
  const size_t dim = static_cast<size_t>(encoder->dim());
  std::vector<float> reference(texts.size() * dim);
  ASSERT_TRUE(IsOk(encoder->Encode(texts, reference)));

  constexpr int kThreads = 8;
  constexpr int kIterations = 200;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<float> out(texts.size() * dim);
      for (int i = 0; i < kIterations; ++i) {
        if (!encoder->Encode(texts, out).ok() || out != reference) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace flashembed::encoders
