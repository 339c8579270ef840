#include "encoders/learned_encoder.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "base/hash.h"
#include "base/status.h"
#include "encoders/encoder.h"
#include "tests/testing/test_util.h"

namespace flashembed::encoders {
namespace {

using testing::Contains;
using testing::TempDir;

// ---------------------------------------------------------------------------
// Synthetic corpora with structure: every topic has its own vocabulary, and
// all topics share some common words. A text of a topic draws 70% of its
// words from the topic and the rest from the common words.
// ---------------------------------------------------------------------------

// A small deterministic generator (std::mt19937's output is fixed by the
// standard; distributions are not, so only its raw numbers are used).
class Draw {
 public:
  explicit Draw(uint32_t seed) : rng_(seed) {}
  size_t Below(size_t n) { return rng_() % n; }

 private:
  std::mt19937 rng_;
};

// Pronounceable made-up words: 2-4 consonant-vowel syllables.
std::vector<std::string> MakeWords(size_t n, Draw* draw) {
  static constexpr std::string_view kConsonants = "bdfgklmnprstvz";
  static constexpr std::string_view kVowels = "aeiou";
  std::vector<std::string> words;
  while (words.size() < n) {
    std::string w;
    const size_t syllables = 2 + draw->Below(3);
    for (size_t s = 0; s < syllables; ++s) {
      w += kConsonants[draw->Below(kConsonants.size())];
      w += kVowels[draw->Below(kVowels.size())];
    }
    if (std::find(words.begin(), words.end(), w) == words.end()) words.push_back(w);
  }
  return words;
}

struct Corpus {
  std::vector<std::vector<std::string>> topics;  // each topic's vocabulary
  std::vector<std::string> common;

  // A text of `words` words of topic `t`, separated by `sep`.
  std::string Text(size_t t, size_t words, Draw* draw, std::string_view sep = " ") const {
    std::string text;
    for (size_t i = 0; i < words; ++i) {
      if (i > 0) text += sep;
      const auto& from = draw->Below(10) < 7 ? topics[t] : common;
      text += from[draw->Below(from.size())];
    }
    return text;
  }
};

Corpus MakeEnglishCorpus() {
  Draw draw(7);
  Corpus corpus;
  std::vector<std::string> all = MakeWords(4 * 40 + 20, &draw);
  for (size_t t = 0; t < 4; ++t) {
    corpus.topics.emplace_back(all.begin() + static_cast<long>(t * 40),
                               all.begin() + static_cast<long>((t + 1) * 40));
  }
  corpus.common.assign(all.end() - 20, all.end());
  return corpus;
}

// Chinese: every topic's words are characters, written without spaces.
Corpus MakeChineseCorpus() {
  Corpus corpus;
  auto split = [](std::string_view chars) {
    std::vector<std::string> out;
    for (size_t i = 0; i < chars.size(); i += 3) out.emplace_back(chars.substr(i, 3));
    return out;
  };
  corpus.topics = {split("机器学习神经网络模型训练数据算法梯度参数"),
                   split("天气下雨太阳温度刮风雪花云朵季节寒冷炎热"),
                   split("足球比赛球员进球教练队伍冠军联赛门将射门")};
  corpus.common = split("的了是在我有和就不人都一");
  return corpus;
}

std::vector<std::string> TrainingTexts(const Corpus& corpus, size_t per_topic, size_t words,
                                       uint32_t seed, std::string_view sep = " ") {
  Draw draw(seed);
  std::vector<std::string> texts;
  for (size_t i = 0; i < per_topic; ++i) {
    for (size_t t = 0; t < corpus.topics.size(); ++t) {
      texts.push_back(corpus.Text(t, words, &draw, sep));
    }
  }
  return texts;
}

std::vector<std::string_view> Views(const std::vector<std::string>& texts) {
  return {texts.begin(), texts.end()};
}

// Small and fast: a second or so on one core. Rows of kDim = 32 + 32 floats.
constexpr size_t kDim = 64;
LearnedOptions SmallOptions() {
  LearnedOptions options;
  options.dim = 32;
  options.lexical_dim = 32;
  options.char_ngram_min = 3;  // the n-gram rows' path (the default has none)
  options.char_ngram_max = 5;
  options.epochs = 5;
  options.buckets = 20'000;
  options.threads = 1;
  options.seed = 3;
  return options;
}

std::vector<float> EncodeAll(const TextEncoder& encoder, const std::vector<std::string>& texts) {
  std::vector<float> out(texts.size() * static_cast<size_t>(encoder.dim()));
  const std::vector<std::string_view> views = Views(texts);
  EXPECT_OK(encoder.Encode(views, out));
  return out;
}

double Dot(std::span<const float> a, std::span<const float> b) {
  double dot = 0;
  for (size_t i = 0; i < a.size(); ++i) dot += static_cast<double>(a[i]) * b[i];
  return dot;
}

// Mean cosine of texts of the same topic and of different topics (texts
// are ordered topic by topic, round after round, as TrainingTexts makes them).
std::pair<double, double> TopicCosines(const TextEncoder& encoder,
                                       const std::vector<std::string>& texts, size_t topics) {
  const std::vector<float> rows = EncodeAll(encoder, texts);
  const size_t dim = static_cast<size_t>(encoder.dim());
  double same = 0, cross = 0;
  size_t n_same = 0, n_cross = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    for (size_t j = i + 1; j < texts.size(); ++j) {
      const double c =
          Dot(std::span(rows).subspan(i * dim, dim), std::span(rows).subspan(j * dim, dim));
      if (i % topics == j % topics) {
        same += c;
        ++n_same;
      } else {
        cross += c;
        ++n_cross;
      }
    }
  }
  return {same / static_cast<double>(n_same), cross / static_cast<double>(n_cross)};
}

// One model trained once for the tests that only read it.
class LearnedEncoderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    corpus_ = new Corpus(MakeEnglishCorpus());
    const std::vector<std::string> texts = TrainingTexts(*corpus_, 60, 80, 11);
    auto trained = LearnedEncoder::Train(Views(texts), SmallOptions());
    ASSERT_TRUE(trained.ok()) << trained.status();
    encoder_ = std::move(trained).value().release();
  }
  static void TearDownTestSuite() {
    delete encoder_;
    delete corpus_;
    encoder_ = nullptr;
    corpus_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(encoder_, nullptr); }

  static Corpus* corpus_;
  static LearnedEncoder* encoder_;
};
Corpus* LearnedEncoderTest::corpus_ = nullptr;
LearnedEncoder* LearnedEncoderTest::encoder_ = nullptr;

// ---------------------------------------------------------------------------
// Quality
// ---------------------------------------------------------------------------

TEST_F(LearnedEncoderTest, SameTopicTextsAreNearerThanOtherTopics) {
  // Texts the model never saw, from the same topics.
  const std::vector<std::string> held_out = TrainingTexts(*corpus_, 5, 30, 99);
  const auto [same, cross] = TopicCosines(*encoder_, held_out, 4);
  EXPECT_GT(same, cross + 0.3) << "same " << same << ", cross " << cross;

  // Each held-out text's nearest neighbour is of its topic.
  const std::vector<float> rows = EncodeAll(*encoder_, held_out);
  const size_t dim = static_cast<size_t>(encoder_->dim());
  for (size_t i = 0; i < held_out.size(); ++i) {
    size_t best = i;
    double best_cos = -2;
    for (size_t j = 0; j < held_out.size(); ++j) {
      if (j == i) continue;
      const double c =
          Dot(std::span(rows).subspan(i * dim, dim), std::span(rows).subspan(j * dim, dim));
      if (c > best_cos) {
        best_cos = c;
        best = j;
      }
    }
    EXPECT_EQ(best % 4, i % 4) << "text " << i;
  }
}

TEST(LearnedEncoder, ChineseWithoutSpacesTrainsAndSeparatesTopics) {
  const Corpus corpus = MakeChineseCorpus();
  const std::vector<std::string> texts = TrainingTexts(corpus, 60, 60, 5, /*sep=*/"");
  ASSERT_OK_AND_ASSIGN(auto encoder, LearnedEncoder::Train(Views(texts), SmallOptions()));
  EXPECT_GE(encoder->vocabulary_size(), 40u);  // the characters are the words
  const std::vector<std::string> held_out = TrainingTexts(corpus, 5, 20, 77, /*sep=*/"");
  const auto [same, cross] = TopicCosines(*encoder, held_out, 3);
  EXPECT_GT(same, cross + 0.3) << "same " << same << ", cross " << cross;

  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> tokens, LearnedEncoder::Tokens("机器学习"));
  EXPECT_EQ(tokens, (std::vector<std::string>{"机", "器", "学", "习"}));
}

TEST(LearnedEncoder, TokensFollowTheHashingEncodersRules) {
  ASSERT_OK_AND_ASSIGN(auto tokens, LearnedEncoder::Tokens("Ｈello, WORLD! x²  café ☃ 東京abc"));
  // NFKC + case folding, punctuation dropped, symbols kept, CJK per character.
  EXPECT_EQ(tokens,
            (std::vector<std::string>{"hello", "world", "x2", "café", "☃", "東", "京", "abc"}));
  ASSERT_OK_AND_ASSIGN(tokens, LearnedEncoder::Tokens("?!"));
  EXPECT_EQ(tokens, (std::vector<std::string>{"?", "!"}));  // only when nothing else
  ASSERT_OK_AND_ASSIGN(tokens, LearnedEncoder::Tokens(" \t\n"));
  EXPECT_TRUE(tokens.empty());
  EXPECT_EQ(LearnedEncoder::Tokens("ok\xff").status().code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

TEST_F(LearnedEncoderTest, SpecNamesTheModel) {
  EXPECT_EQ(encoder_->dim(), 64);
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx",
                static_cast<unsigned long long>(encoder_->fingerprint()));
  EXPECT_EQ(encoder_->spec(), std::string("learned/v1;id=") + hex + ";dim=64");
  EXPECT_EQ(encoder_->fingerprint(), Hash64(encoder_->Serialize()));
  EXPECT_EQ(EncoderNameFromSpec(encoder_->spec()), "learned");
  const auto from_spec = TextEncoderFromSpec(encoder_->spec());
  EXPECT_EQ(from_spec.status().code(), StatusCode::kNotSupported);
  EXPECT_TRUE(Contains(from_spec.status(), "LearnedEncoder::Load"));
  EXPECT_EQ(encoder_->options().epochs, 5);
  EXPECT_EQ(encoder_->training_texts(), 240u);
}

TEST_F(LearnedEncoderTest, RowsAreUnitLengthIncludingUnknownWordsAndPunctuation) {
  const std::vector<std::string> texts = {
      corpus_->topics[0][0] + " " + corpus_->topics[0][1],
      "qqqxxyzzy",                  // unknown: its character n-grams (maybe none trained)
      corpus_->topics[1][2] + "s",  // unknown, but shares n-grams with a word
      "!!!",                        // no word vector: the lexical part alone
      "???",
  };
  const std::vector<float> rows = EncodeAll(*encoder_, texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::span<const float> row = std::span(rows).subspan(i * kDim, kDim);
    EXPECT_NEAR(Dot(row, row), 1.0, 1e-5) << texts[i];
  }
  EXPECT_LT(Dot(std::span(rows).subspan(3 * kDim, kDim), std::span(rows).subspan(4 * kDim, kDim)),
            0.99);
}

TEST_F(LearnedEncoderTest, TheLexicalPartKeepsExactWordsAndPairs) {
  // A word no training text had, and so no word vector: the lexical part
  // still finds the text that has it.
  const std::string base = corpus_->topics[2][0] + " " + corpus_->topics[2][1] + " " +
                           corpus_->topics[2][2] + " " + corpus_->common[0];
  const std::vector<float> rows =
      EncodeAll(*encoder_, {"zorblaxquux", base + " zorblaxquux", base});
  const auto row = [&](size_t i) { return std::span(rows).subspan(i * kDim, kDim); };
  EXPECT_GT(Dot(row(0), row(1)), Dot(row(0), row(2)) + 0.1);

  // Pairs of adjacent tokens: the lexical part alone tells "学习" from "习学".
  LearnedOptions lexical_only = encoder_->options();
  lexical_only.lexical_weight = 1;
  ASSERT_OK_AND_ASSIGN(auto lexical, encoder_->Reconfigured(lexical_only));
  const std::vector<float> cjk = EncodeAll(*lexical, {"学习", "学习", "习学"});
  const auto cjk_row = [&](size_t i) { return std::span(cjk).subspan(i * kDim, kDim); };
  EXPECT_NEAR(Dot(cjk_row(0), cjk_row(1)), 1.0, 1e-5);
  EXPECT_LT(Dot(cjk_row(0), cjk_row(2)), 0.99);
}

TEST_F(LearnedEncoderTest, ReconfiguredChangesOnlyTheEncoding) {
  LearnedOptions other = SmallOptions();
  other.semantic_weighting = LearnedOptions::Weighting::kIdf;
  other.remove_common = false;
  other.lexical_dim = 16;
  other.lexical_weight = 0.2;
  other.pair_weight = 0;
  other.dim = 100;  // training fields stay the model's
  other.buckets = 5000;
  ASSERT_OK_AND_ASSIGN(auto changed, encoder_->Reconfigured(other));
  EXPECT_EQ(changed->dim(), 32 + 16);
  EXPECT_NE(changed->spec(), encoder_->spec());
  EXPECT_EQ(changed->options().buckets, 20'000);
  EXPECT_EQ(changed->options().lexical_dim, 16);
  EXPECT_FALSE(changed->options().remove_common);
  EXPECT_EQ(changed->vocabulary_size(), encoder_->vocabulary_size());
  const auto [same, cross] = TopicCosines(*changed, TrainingTexts(*corpus_, 5, 30, 99), 4);
  EXPECT_GT(same, cross + 0.3) << "same " << same << ", cross " << cross;
  // Loads as it is, and back to the first options gives the first model.
  ASSERT_OK_AND_ASSIGN(auto loaded, LearnedEncoder::Load(changed->Serialize()));
  EXPECT_EQ(loaded->spec(), changed->spec());
  ASSERT_OK_AND_ASSIGN(auto back, changed->Reconfigured(encoder_->options()));
  EXPECT_TRUE(back->Serialize() == encoder_->Serialize());
  other.lexical_weight = 2;
  EXPECT_EQ(encoder_->Reconfigured(other).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(LearnedEncoderTest, ErrorsNameTheText) {
  std::vector<float> out(3 * kDim);
  std::vector<std::string_view> texts = {"fine", " \t ", "fine"};
  Status status = encoder_->Encode(texts, out);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(status, "text 1")) << status;
  texts = {"fine", "fine", "bad \xc3"};
  status = encoder_->Encode(texts, out);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(status, "text 2: invalid UTF-8 at byte 4")) << status;
  status = encoder_->Encode(texts, std::span(out).first(10));
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
}

TEST_F(LearnedEncoderTest, BatchRowsEqualSingleEncodesAndConcurrentEncodes) {
  const std::vector<std::string> texts = TrainingTexts(*corpus_, 2, 15, 123);
  const std::vector<float> batch = EncodeAll(*encoder_, texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<float> one = EncodeAll(*encoder_, {texts[i]});
    EXPECT_EQ(0, std::memcmp(one.data(), batch.data() + i * kDim, kDim * sizeof(float))) << i;
  }
  std::vector<std::vector<float>> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) {
    threads.emplace_back([&] { result = EncodeAll(*encoder_, texts); });
  }
  for (auto& t : threads) t.join();
  for (const auto& result : results) EXPECT_EQ(result, batch);
}

TEST_F(LearnedEncoderTest, TokenSpansAreTheHashingEncodersUnits) {
  ASSERT_OK_AND_ASSIGN(const auto spans, encoder_->TokenSpans("ab, 東京"));
  ASSERT_EQ(spans.size(), 4u);
  EXPECT_EQ(spans[0], (TokenSpan{0, 2, false}));
  EXPECT_EQ(spans[1], (TokenSpan{2, 3, false}));
  EXPECT_EQ(spans[2], (TokenSpan{4, 7, false}));
  EXPECT_EQ(encoder_->max_tokens(), 256u);
}

// ---------------------------------------------------------------------------
// Serialisation
// ---------------------------------------------------------------------------

TEST_F(LearnedEncoderTest, SerializeLoadGivesBitIdenticalVectors) {
  const std::string bytes = encoder_->Serialize();
  ASSERT_OK_AND_ASSIGN(const auto loaded, LearnedEncoder::Load(bytes));
  EXPECT_EQ(loaded->spec(), encoder_->spec());
  EXPECT_EQ(loaded->Serialize(), bytes);
  EXPECT_EQ(loaded->vocabulary_size(), encoder_->vocabulary_size());
  EXPECT_EQ(loaded->options().buckets, 20'000);
  std::vector<std::string> texts = TrainingTexts(*corpus_, 3, 25, 5);
  texts.push_back("unknownword zzz");
  texts.push_back("!?");
  const std::vector<float> a = EncodeAll(*encoder_, texts);
  const std::vector<float> b = EncodeAll(*loaded, texts);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
}

TEST_F(LearnedEncoderTest, DamagedBytesAreCorruption) {
  const std::string bytes = encoder_->Serialize();
  // Truncated anywhere.
  for (const size_t size : {size_t{0}, size_t{7}, size_t{39}, size_t{40}, size_t{41},
                            bytes.size() / 2, bytes.size() - 1}) {
    const auto loaded = LearnedEncoder::Load(std::string_view(bytes).substr(0, size));
    EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption) << size << ": " << loaded.status();
  }
  // Trailing garbage, a flipped payload byte, a bad magic.
  EXPECT_EQ(LearnedEncoder::Load(bytes + "x").status().code(), StatusCode::kCorruption);
  std::string damaged = bytes;
  damaged[bytes.size() / 3] ^= 0x10;
  EXPECT_EQ(LearnedEncoder::Load(damaged).status().code(), StatusCode::kCorruption);
  damaged = bytes;
  damaged[0] = 'X';
  EXPECT_EQ(LearnedEncoder::Load(damaged).status().code(), StatusCode::kCorruption);
  // A later format version.
  damaged = bytes;
  damaged[8] = 2;
  EXPECT_EQ(LearnedEncoder::Load(damaged).status().code(), StatusCode::kNotSupported);
  // Header fields that disagree with the payload.
  damaged = bytes;
  damaged[12] = 64;  // dim
  EXPECT_EQ(LearnedEncoder::Load(damaged).status().code(), StatusCode::kCorruption);
  damaged = bytes;
  damaged[16] ^= 1;  // vocabulary size
  EXPECT_EQ(LearnedEncoder::Load(damaged).status().code(), StatusCode::kCorruption);
}

// Damage the checksum cannot see (it is resealed): the structural checks
// refuse it or the model loads, but nothing crashes or hangs.
TEST_F(LearnedEncoderTest, ResealedDamageNeverCrashes) {
  const std::string bytes = encoder_->Serialize();
  constexpr size_t kHeader = 40;
  auto reseal = [&](std::string damaged) {
    const uint64_t size = damaged.size() - kHeader;
    const uint64_t hash = Hash64(damaged.data() + kHeader, size);
    std::memcpy(damaged.data() + 24, &size, 8);
    std::memcpy(damaged.data() + 32, &hash, 8);
    return damaged;
  };
  // Every byte of the options, fastText's arguments and the dictionary's
  // header with three flips; the dictionary's words and the vectors sampled.
  uint64_t section_size = 0;  // after 11 int32, 6 double and 2 uint64 options
  std::memcpy(&section_size, bytes.data() + kHeader + 108, 8);
  const size_t section_end = kHeader + 116 + section_size;
  int32_t fasttext_dim = 0;  // the section starts with fastText's arguments
  std::memcpy(&fasttext_dim, bytes.data() + kHeader + 116, 4);
  ASSERT_EQ(fasttext_dim, 32);
  ASSERT_LT(section_end, bytes.size());
  std::vector<std::pair<size_t, unsigned char>> flips;
  for (size_t p = kHeader; p < kHeader + 116 + 56 + 28; ++p) {
    for (const unsigned char flip : {0x01, 0x80, 0xff}) flips.emplace_back(p, flip);
  }
  for (size_t p = kHeader + 116 + 56 + 28; p < section_end; p += 5) flips.emplace_back(p, 0xff);
  for (size_t p = section_end; p < bytes.size(); p += bytes.size() / 50)
    flips.emplace_back(p, 0x80);
  size_t refused = 0;
  for (const auto& [p, flip] : flips) {
    std::string damaged = bytes;
    damaged[p] = static_cast<char>(static_cast<unsigned char>(damaged[p]) ^ flip);
    const auto loaded = LearnedEncoder::Load(reseal(damaged));
    if (!loaded.ok()) {
      EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption) << p << ": " << loaded.status();
      ++refused;
    }
  }
  EXPECT_GT(refused, 0u);
  // Cut short and resealed.
  for (const size_t size : {kHeader + 10, kHeader + 200, bytes.size() - 5}) {
    const auto loaded = LearnedEncoder::Load(reseal(bytes.substr(0, size)));
    EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption) << size;
  }
}

// ---------------------------------------------------------------------------
// Training
// ---------------------------------------------------------------------------

TEST(LearnedEncoder, OneThreadAndASeedAreDeterministic) {
  const Corpus corpus = MakeEnglishCorpus();
  const std::vector<std::string> texts = TrainingTexts(corpus, 20, 60, 1);
  ASSERT_OK_AND_ASSIGN(auto a, LearnedEncoder::Train(Views(texts), SmallOptions()));
  ASSERT_OK_AND_ASSIGN(auto b, LearnedEncoder::Train(Views(texts), SmallOptions()));
  EXPECT_EQ(a->fingerprint(), b->fingerprint());
  EXPECT_TRUE(a->Serialize() == b->Serialize());
  LearnedOptions other = SmallOptions();
  other.seed = 4;
  ASSERT_OK_AND_ASSIGN(auto c, LearnedEncoder::Train(Views(texts), other));
  EXPECT_NE(a->fingerprint(), c->fingerprint());
  EXPECT_NE(a->spec(), c->spec());
}

TEST(LearnedEncoder, ProgressIsReportedStageByStage) {
  const Corpus corpus = MakeEnglishCorpus();
  const std::vector<std::string> texts = TrainingTexts(corpus, 20, 60, 1);
  std::vector<LearnedProgress> seen;
  ASSERT_OK_AND_ASSIGN(auto encoder,
                       LearnedEncoder::Train(Views(texts), SmallOptions(),
                                             [&](const LearnedProgress& p) { seen.push_back(p); }));
  ASSERT_FALSE(seen.empty());
  using Stage = LearnedProgress::Stage;
  for (size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GE(static_cast<int>(seen[i].stage), static_cast<int>(seen[i - 1].stage)) << i;
    if (seen[i].stage == seen[i - 1].stage) {
      EXPECT_GE(seen[i].fraction, seen[i - 1].fraction) << i;
    }
  }
  for (const Stage stage : {Stage::kReading, Stage::kTraining, Stage::kFinishing}) {
    const auto last = std::find_if(seen.rbegin(), seen.rend(),
                                   [&](const LearnedProgress& p) { return p.stage == stage; });
    ASSERT_NE(last, seen.rend()) << static_cast<int>(stage);
    EXPECT_EQ(last->fraction, 1.0) << static_cast<int>(stage);
  }
  const auto training = std::count_if(seen.begin(), seen.end(), [](const LearnedProgress& p) {
    return p.stage == Stage::kTraining;
  });
  EXPECT_GT(training, 2);
  EXPECT_EQ(seen.front().stage, Stage::kReading);
  EXPECT_EQ(seen.back().texts, texts.size());
}

TEST(LearnedEncoder, TooLittleTextIsAClearError) {
  const std::vector<std::string_view> few = {"hello world", "a little text"};
  auto trained = LearnedEncoder::Train(few, SmallOptions());
  EXPECT_EQ(trained.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(trained.status(), "not enough text to train: 5 tokens in 2 texts"))
      << trained.status();

  // Plenty of tokens, but no word repeats enough to learn from.
  Draw draw(1);
  const std::vector<std::string> distinct = MakeWords(1500, &draw);
  std::string one_text;
  for (const std::string& w : distinct) one_text += w + " ";
  const std::vector<std::string_view> texts = {one_text};
  trained = LearnedEncoder::Train(texts, SmallOptions());
  EXPECT_EQ(trained.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(trained.status(), "distinct words occur at least min_count = 3 times"))
      << trained.status();
}

TEST(LearnedEncoder, TrainingRefusesInvalidInputAndRemovesItsFiles) {
  TempDir dir;
  LearnedOptions options = SmallOptions();
  options.temp_dir = dir.path();
  const std::vector<std::string_view> bad = {"fine text", "more", "bad \xed\xa0\x80"};
  const auto trained = LearnedEncoder::Train(bad, options);
  EXPECT_EQ(trained.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(trained.status(), "text 2: invalid UTF-8 at byte 4")) << trained.status();
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));

  const Corpus corpus = MakeEnglishCorpus();
  const std::vector<std::string> texts = TrainingTexts(corpus, 10, 40, 1);
  ASSERT_OK_AND_ASSIGN(auto encoder, LearnedEncoder::Train(Views(texts), options));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));

  // A source's own error comes back as it is.
  const auto failed = LearnedEncoder::Train(
      [](const std::function<Status(std::string_view)>& visit) {
        FE_RETURN_IF_ERROR(visit("some text"));
        return Status::IOError("disk gone");
      },
      options);
  EXPECT_EQ(failed.status(), Status::IOError("disk gone"));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));

  options.temp_dir = dir.Sub("missing");
  EXPECT_EQ(LearnedEncoder::Train(Views(texts), options).status().code(), StatusCode::kIOError);
}

TEST(LearnedEncoder, OptionsAreValidated) {
  LearnedOptions options;
  EXPECT_OK(options.Validate());
  options.dim = 4;
  EXPECT_TRUE(Contains(options.Validate(), "dim must be in [8, 1024], got 4"));
  options = LearnedOptions();
  options.char_ngram_min = 5;
  options.char_ngram_max = 3;
  EXPECT_EQ(options.Validate().code(), StatusCode::kInvalidArgument);
  options.char_ngram_min = 0;
  options.char_ngram_max = 0;  // no n-grams at all
  EXPECT_OK(options.Validate());
  options.learning_rate = 0;
  EXPECT_EQ(options.Validate().code(), StatusCode::kInvalidArgument);
  options = LearnedOptions();
  options.lexical_dim = 20000;
  EXPECT_TRUE(Contains(options.Validate(), "lexical_dim must be in [0, 16384], got 20000"));
  options = LearnedOptions();
  options.lexical_weight = -0.5;
  EXPECT_EQ(options.Validate().code(), StatusCode::kInvalidArgument);
  const std::vector<std::string_view> none;
  EXPECT_EQ(LearnedEncoder::Train(none, options).status().code(), StatusCode::kInvalidArgument);
}

TEST(LearnedEncoder, WithoutNgramsUnknownWordsFallBack) {
  const Corpus corpus = MakeEnglishCorpus();
  const std::vector<std::string> texts = TrainingTexts(corpus, 10, 40, 1);
  LearnedOptions options = SmallOptions();
  options.char_ngram_min = 0;
  options.char_ngram_max = 0;
  options.lexical_dim = 0;
  ASSERT_OK_AND_ASSIGN(auto encoder, LearnedEncoder::Train(Views(texts), options));
  EXPECT_EQ(encoder->dim(), 32);
  const std::vector<float> rows = EncodeAll(*encoder, {"zzzunknown", texts[0]});
  EXPECT_NEAR(Dot(std::span(rows).first(32), std::span(rows).first(32)), 1.0, 1e-5);
  ASSERT_OK_AND_ASSIGN(auto loaded, LearnedEncoder::Load(encoder->Serialize()));
  EXPECT_EQ(EncodeAll(*loaded, {"zzzunknown", texts[0]}), rows);
}

}  // namespace
}  // namespace flashembed::encoders
