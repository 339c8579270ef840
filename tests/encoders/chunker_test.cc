#include "encoders/chunker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "encoders/encoder.h"
#include "encoders/hashing_encoder.h"
#include "encoders/transformer_encoder.h"
#include "encoders/wordpiece_tokenizer.h"
#include "tests/testing/test_util.h"

namespace flashembed::encoders {
namespace {

// Real BERT vocabularies (where each file came from: testdata/vocab/SOURCES.md).
const std::string kVocabDir = FLASHEMBED_SOURCE_DIR "/tests/encoders/testdata/vocab";
const std::string kTestdataDir = FLASHEMBED_SOURCE_DIR "/tests/encoders/testdata";

// A TextEncoder over a real BERT tokenizer without model weights: the
// tokenizer half of TransformerEncoder, through the same WordPieceTokenSpans.
class WordPieceSpans final : public TextEncoder {
 public:
  WordPieceSpans(std::unique_ptr<WordPieceTokenizer> tokenizer, size_t max_tokens)
      : tokenizer_(std::move(tokenizer)), max_tokens_(max_tokens) {}
  int dim() const override { return 0; }
  std::string spec() const override { return "wordpiece-test"; }
  Status Encode(std::span<const std::string_view>, std::span<float>) const override {
    return Status::NotSupported("tokenizer only");
  }
  Result<std::vector<TokenSpan>> TokenSpans(std::string_view text) const override {
    return WordPieceTokenSpans(*tokenizer_, "##", text);
  }
  size_t max_tokens() const override { return max_tokens_; }
  size_t special_tokens() const override { return 2; }
  const WordPieceTokenizer& tokenizer() const { return *tokenizer_; }

 private:
  std::unique_ptr<WordPieceTokenizer> tokenizer_;
  size_t max_tokens_;
};

// An encoder that knows nothing of tokens (the TextEncoder defaults).
class NoSpans final : public TextEncoder {
 public:
  int dim() const override { return 1; }
  std::string spec() const override { return "no-spans"; }
  Status Encode(std::span<const std::string_view>, std::span<float>) const override {
    return Status::OK();
  }
};

std::unique_ptr<WordPieceSpans> Uncased(size_t max_tokens = 512) {
  auto tokenizer = WordPieceTokenizer::FromFiles(kVocabDir + "/bert-base-uncased/vocab.txt",
                                                 kVocabDir + "/bert-base-uncased/tokenizer.json");
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return std::make_unique<WordPieceSpans>(std::move(tokenizer).value(), max_tokens);
}

std::unique_ptr<WordPieceSpans> Chinese(size_t max_tokens = 512) {
  auto tokenizer = WordPieceTokenizer::FromFiles(kVocabDir + "/bert-base-chinese/vocab.txt", "");
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return std::make_unique<WordPieceSpans>(std::move(tokenizer).value(), max_tokens);
}

std::unique_ptr<HashingEncoder> Hashing() {
  auto encoder = HashingEncoder::Create(HashingEncoder::Options());
  EXPECT_TRUE(encoder.ok()) << encoder.status();
  return std::move(encoder).value();
}

Chunker MakeChunker(const TextEncoder& encoder, size_t chunk_tokens, size_t overlap_tokens) {
  ChunkOptions options;
  options.chunk_tokens = chunk_tokens;
  options.overlap_tokens = overlap_tokens;
  auto chunker = Chunker::Create(encoder, options);
  EXPECT_TRUE(chunker.ok()) << chunker.status();
  return std::move(chunker).value();
}

std::vector<Chunk> Split(const Chunker& chunker, std::string_view text) {
  auto chunks = chunker.Split(text);
  EXPECT_TRUE(chunks.ok()) << chunks.status();
  return chunks.ok() ? std::move(chunks).value() : std::vector<Chunk>();
}

std::vector<std::string> Texts(const std::vector<Chunk>& chunks) {
  std::vector<std::string> texts;
  for (const Chunk& c : chunks) texts.push_back(c.text);
  return texts;
}

// How many tokens the real tokenizer makes of `text`, [CLS] and [SEP] excluded.
size_t CountTokens(const TextEncoder& encoder, std::string_view text) {
  if (const auto* wp = dynamic_cast<const WordPieceSpans*>(&encoder)) {
    auto enc = wp->tokenizer().Encode(text, 0);
    EXPECT_TRUE(enc.ok()) << enc.status();
    return enc.ok() ? enc->ids.size() - 2 : 0;
  }
  auto spans = encoder.TokenSpans(text);
  EXPECT_TRUE(spans.ok()) << spans.status();
  return spans.ok() ? spans->size() : 0;
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

TEST(ChunkerOptions, DefaultsFollowTheEncoder) {
  const auto hashing = Hashing();
  ASSERT_OK_AND_ASSIGN(const Chunker h, Chunker::Create(*hashing, ChunkOptions()));
  EXPECT_EQ(h.chunk_tokens(), 256u);   // kWindowTokens, no special tokens
  EXPECT_EQ(h.overlap_tokens(), 38u);  // 15%
  struct Case {
    size_t max_tokens, chunk_tokens, overlap_tokens;
  };
  // BERT-base (512) is capped at 256; MiniLM's max_seq_length 256 leaves 254;
  // a long-context model keeps its maximum; 0 (unknown) gives 256.
  for (const Case& c : {Case{512, 256, 38}, Case{256, 254, 38}, Case{128, 126, 18},
                        Case{8192, 8190, 1228}, Case{0, 256, 38}}) {
    const auto wp = Uncased(c.max_tokens);
    ASSERT_OK_AND_ASSIGN(const Chunker chunker, Chunker::Create(*wp, ChunkOptions()));
    EXPECT_EQ(chunker.chunk_tokens(), c.chunk_tokens) << "max_tokens " << c.max_tokens;
    EXPECT_EQ(chunker.overlap_tokens(), c.overlap_tokens) << "max_tokens " << c.max_tokens;
  }
  ChunkOptions options;
  options.chunk_tokens = 100;
  options.overlap_tokens = 0;
  ASSERT_OK_AND_ASSIGN(const Chunker explicit_sizes, Chunker::Create(*hashing, options));
  EXPECT_EQ(explicit_sizes.chunk_tokens(), 100u);
  EXPECT_EQ(explicit_sizes.overlap_tokens(), 0u);
}

TEST(ChunkerOptions, UnlimitedEncoderTakesAnyWindow) {
  const auto wp = Uncased(/*max_tokens=*/0);  // no known limit
  ChunkOptions options;
  options.chunk_tokens = SIZE_MAX;
  options.overlap_tokens = 0;
  ASSERT_OK_AND_ASSIGN(const Chunker chunker, Chunker::Create(*wp, options));
  const std::vector<Chunk> chunks = Split(chunker, "One sentence. Two sentences.");
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].token_count, 6u);
}

TEST(ChunkerOptions, RejectsSizesTheEncoderCannotTake) {
  const auto wp = Uncased(128);
  ChunkOptions too_long;
  too_long.chunk_tokens = 127;  // 128 - [CLS] - [SEP] = 126
  const Status status = Chunker::Create(*wp, too_long).status();
  EXPECT_TRUE(status.IsInvalidArgument()) << status;
  EXPECT_NE(status.message().find("chunk_tokens 127 exceeds the 126"), std::string::npos) << status;

  ChunkOptions big_overlap;
  big_overlap.chunk_tokens = 100;
  big_overlap.overlap_tokens = 51;
  const Status overlap = Chunker::Create(*wp, big_overlap).status();
  EXPECT_TRUE(overlap.IsInvalidArgument()) << overlap;
  EXPECT_NE(overlap.message().find("overlap_tokens 51"), std::string::npos) << overlap;
  big_overlap.overlap_tokens = 50;
  EXPECT_OK(Chunker::Create(*wp, big_overlap).status());

  const NoSpans no_spans;
  EXPECT_EQ(Chunker::Create(no_spans, ChunkOptions()).status().code(), StatusCode::kNotSupported);
}

// ---------------------------------------------------------------------------
// Token spans of the two encoders
// ---------------------------------------------------------------------------

TEST(ChunkerTokenSpans, HashingUnitsOnTheRawText) {
  const auto hashing = Hashing();
  // word, punct, word(with é), punct, 4 CJK chars, emoji + skin tone (one
  // token), ZWJ family (one token), two flags, symbol '+'.
  const std::string text =
      "Hello, wörld!  机器学习 👍🏽 👨‍👩‍👧 🇫🇷🇩🇪 a+b";
  ASSERT_OK_AND_ASSIGN(const auto spans, hashing->TokenSpans(text));
  std::vector<std::string> got;
  for (const TokenSpan& s : spans) got.push_back(text.substr(s.begin, s.end - s.begin));
  EXPECT_EQ(
      got, (std::vector<std::string>{"Hello", ",", "wörld", "!", "机", "器", "学", "习", "👍🏽",
                                     "👨‍👩‍👧", "🇫🇷", "🇩🇪", "a", "+", "b"}));
  for (const TokenSpan& s : spans) EXPECT_FALSE(s.continues_word);

  // A 150-letter word is three pieces: 64 + 64 + 22 letters.
  const std::string word(150, 'x');
  ASSERT_OK_AND_ASSIGN(const auto pieces, hashing->TokenSpans(" " + word + " "));
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0], (TokenSpan{1, 65, false}));
  EXPECT_EQ(pieces[1], (TokenSpan{65, 129, true}));
  EXPECT_EQ(pieces[2], (TokenSpan{129, 151, true}));

  const Status bad = hashing->TokenSpans("ok \xC3").status();
  EXPECT_TRUE(bad.IsInvalidArgument()) << bad;
  EXPECT_NE(bad.message().find("byte 3"), std::string::npos) << bad;
}

TEST(ChunkerTokenSpans, WordPieceOffsetsAndSubwords) {
  const auto wp = Uncased();
  const std::string text = "Tokenization, of  naïve text.";
  ASSERT_OK_AND_ASSIGN(const auto spans, wp->TokenSpans(text));
  ASSERT_OK_AND_ASSIGN(const auto enc, wp->tokenizer().Encode(text, 0));
  ASSERT_EQ(spans.size() + 2, enc.ids.size());
  for (size_t i = 0; i < spans.size(); ++i) {
    EXPECT_EQ(spans[i].begin, enc.offsets[i + 1].first);
    EXPECT_EQ(spans[i].end, enc.offsets[i + 1].second);
    EXPECT_EQ(spans[i].continues_word, enc.tokens[i + 1].starts_with("##")) << enc.tokens[i + 1];
  }
  // "tokenization" is "token" "##ization" in bert-base-uncased.
  EXPECT_EQ(enc.tokens[1], "token");
  EXPECT_TRUE(spans[1].continues_word);
}

TEST(ChunkerTokenSpans, TransformerEncoderReportsItsTokenizer) {
  const std::string dir =
      std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/bert/mean_norm_f32";
  ASSERT_OK_AND_ASSIGN(const auto encoder, TransformerEncoder::Open(dir));
  EXPECT_EQ(encoder->max_tokens(), 48u);  // sentence_bert_config.json max_seq_length
  EXPECT_EQ(encoder->special_tokens(), 2u);
  ASSERT_OK_AND_ASSIGN(const auto spans, encoder->TokenSpans("w1  w22,w3"));
  EXPECT_EQ(spans,
            (std::vector<TokenSpan>{{0, 2, false}, {4, 7, false}, {7, 8, false}, {8, 10, false}}));
  // Default window: 48 - 2 = 46 tokens; chunks of a long text are encoded
  // whole, without truncation.
  ASSERT_OK_AND_ASSIGN(const Chunker chunker, Chunker::Create(*encoder, ChunkOptions()));
  EXPECT_EQ(chunker.chunk_tokens(), 46u);
  EXPECT_EQ(chunker.overlap_tokens(), 6u);
  std::string text;
  for (int i = 0; i < 300; ++i) text += "w" + std::to_string(i % 97) + (i % 9 == 8 ? ". " : " ");
  const std::vector<Chunk> chunks = Split(chunker, text);
  ASSERT_GE(chunks.size(), 7u);
  std::vector<std::string_view> views;
  for (const Chunk& c : chunks) {
    ASSERT_OK_AND_ASSIGN(const auto tokens, encoder->Tokenize(c.text, 0));
    EXPECT_EQ(tokens.ids.size(), c.token_count + 2);
    EXPECT_LE(tokens.ids.size(), encoder->max_tokens());
    views.push_back(c.text);
  }
  std::vector<float> out(views.size() * static_cast<size_t>(encoder->dim()));
  EXPECT_OK(encoder->Encode(views, out));
}

// ---------------------------------------------------------------------------
// Boundaries
// ---------------------------------------------------------------------------

TEST(Chunker, EmptyAndBlankTextsGiveNoChunks) {
  const auto hashing = Hashing();
  const auto wp = Uncased();
  for (const TextEncoder* encoder : {static_cast<const TextEncoder*>(hashing.get()),
                                     static_cast<const TextEncoder*>(wp.get())}) {
    const Chunker chunker = MakeChunker(*encoder, 16, 2);
    for (const std::string& text : {std::string(), std::string(" \t\n\r\n  "),
                                    std::string("\0\0\x01 ", 4), std::string("\u3000\u00a0")}) {
      EXPECT_TRUE(Split(chunker, text).empty()) << encoder->spec() << " text size " << text.size();
    }
  }
}

TEST(Chunker, ShortTextIsOneTrimmedChunk) {
  const auto wp = Uncased();
  const Chunker chunker = MakeChunker(*wp, 32, 4);
  const std::string text = "  \n Hello world, this is short.\t\n";
  const std::vector<Chunk> chunks = Split(chunker, text);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0], (Chunk{0, 4, 31, 7, "Hello world, this is short."}));
}

TEST(Chunker, CutsAtSentenceEnds) {
  const auto wp = Uncased();
  // Sentences of 7 tokens (6 words and '.'), then a 10-token one.
  std::string text;
  for (int i = 0; i < 12; ++i) {
    text += i % 4 == 3 ? "The cat sat on the red mat near the door. " : "The cat sat on the mat. ";
  }
  const Chunker chunker = MakeChunker(*wp, 20, 0);
  const std::vector<Chunk> chunks = Split(chunker, text);
  ASSERT_GE(chunks.size(), 5u);
  size_t covered = 0;
  for (const Chunk& c : chunks) {
    EXPECT_TRUE(c.text.ends_with(".")) << c.text;
    EXPECT_TRUE(c.text.starts_with("The ")) << c.text;
    EXPECT_LE(c.token_count, 20u);
    EXPECT_GE(c.token_count, 10u);  // at least half full
    covered += c.token_count;
  }
  EXPECT_EQ(covered, CountTokens(*wp, text));  // no overlap asked: a partition
  // The '!' and '?' and closing quotes count too; "e.g. the" does not end one.
  const std::string quoted =
      "He said \"stop it now please!\" Then we went home. Was it e.g. the one? Yes it was.";
  const std::vector<Chunk> q = Split(MakeChunker(*wp, 10, 0), quoted);
  EXPECT_EQ(Texts(q),
            (std::vector<std::string>{"He said \"stop it now please!\"", "Then we went home.",
                                      "Was it e.g. the one?", "Yes it was."}));
}

TEST(Chunker, ParagraphsAndLinesAreStrongerThanSentences) {
  const auto wp = Uncased();
  const Chunker chunker = MakeChunker(*wp, 24, 0);
  // A blank line after 14 tokens beats the sentence end after 21.
  const std::string text =
      "One two three four five six seven eight nine ten eleven twelve thirteen fourteen\n\n"
      "Fifteen sixteen seventeen eighteen nineteen twenty one. Two three four five six seven";
  const std::vector<Chunk> chunks = Split(chunker, text);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_TRUE(chunks[0].text.ends_with("fourteen")) << chunks[0].text;
  // A line break beats a sentence end; a wrapped line (lowercase next) does not.
  const std::string lines =
      "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu\nNu xi omicron pi. "
      "Rho sigma tau upsilon phi chi psi\nomega alpha beta gamma delta epsilon zeta eta theta";
  const std::vector<Chunk> l = Split(chunker, lines);
  ASSERT_GE(l.size(), 2u);
  EXPECT_TRUE(l[0].text.ends_with("mu")) << l[0].text;
}

TEST(Chunker, CjkPunctuationEndsSentences) {
  const auto zh = Chinese();
  // Every CJK character is one token; sentences end at 。！？；．, without
  // spaces, and a closing quote stays with its sentence. Sentences of 15, 7,
  // 6, 7, 9, 6 and 9 tokens in windows of 16.
  const std::string text =
      "机器学习是人工智能的一个分支。今天天气很好！你吃饭了吗？我们去公园吧；"
      "他说：“明天见。”然后他走了．这是最后一句话了。";
  const std::vector<Chunk> chunks = Split(MakeChunker(*zh, 16, 0), text);
  EXPECT_EQ(Texts(chunks),
            (std::vector<std::string>{
                "机器学习是人工智能的一个分支。", "今天天气很好！你吃饭了吗？",
                "我们去公园吧；他说：“明天见。”", "然后他走了．这是最后一句话了。"}));
  for (const Chunk& c : chunks) EXPECT_EQ(c.token_count, CountTokens(*zh, c.text)) << c.text;
  // Mixed with English words: each sentence is one chunk.
  const std::string first = "机器学习 is machine learning。";
  const std::string second = "深度学习 is deep learning！";
  const size_t c = std::max(CountTokens(*zh, first), CountTokens(*zh, second)) + 2;
  const std::vector<Chunk> mixed = Split(MakeChunker(*zh, c, 0), first + second + first);
  EXPECT_EQ(Texts(mixed), (std::vector<std::string>{first, second, first}));
}

TEST(Chunker, WithoutPunctuationCutsAtWords) {
  const auto wp = Uncased();
  std::string text;
  for (int i = 0; i < 200; ++i) text += (i % 3 ? "river " : "mountain ");
  const std::vector<Chunk> chunks = Split(MakeChunker(*wp, 32, 4), text);
  ASSERT_GE(chunks.size(), 7u);
  for (size_t i = 0; i < chunks.size(); ++i) {
    const Chunk& c = chunks[i];
    EXPECT_EQ(c.text, text.substr(c.begin, c.end - c.begin));
    EXPECT_TRUE(c.begin == 0 || text[c.begin - 1] == ' ');
    EXPECT_TRUE(c.end == text.size() || text[c.end] == ' ');
    if (i + 1 < chunks.size()) {
      EXPECT_EQ(c.token_count, 32u);  // the latest word boundary is the window's end
      EXPECT_EQ(CountTokens(*wp, text.substr(chunks[i + 1].begin, c.end - chunks[i + 1].begin)),
                4u);  // overlap: O tokens, all at word boundaries
    }
  }
}

TEST(Chunker, LongWordsAreCutBetweenTokens) {
  const auto wp = Uncased();
  const auto hashing = Hashing();
  // A 99-letter word (WordPiece still splits it; 100+ would be one [UNK]),
  // a 10k-character URL and a 10k-letter word for the hashing encoder.
  std::mt19937 rng(7);
  std::string word;
  for (int i = 0; i < 99; ++i) word += static_cast<char>('a' + rng() % 26);
  std::string url = "https://example.com/";
  while (url.size() < 10000) url += "segment" + std::to_string(rng() % 1000) + "/";
  const std::string letters(10000, 'q');
  struct Case {
    const TextEncoder* encoder;
    std::string text;
  };
  for (const Case& c : {Case{wp.get(), "see " + word + " here"}, Case{wp.get(), url},
                        Case{hashing.get(), "see " + letters + " here"}}) {
    const Chunker chunker = MakeChunker(*c.encoder, 16, 3);
    const std::vector<Chunk> chunks = Split(chunker, c.text);
    ASSERT_GE(chunks.size(), 3u) << c.encoder->spec();
    size_t prev_end = 0;
    for (const Chunk& chunk : chunks) {
      EXPECT_EQ(chunk.text, c.text.substr(chunk.begin, chunk.end - chunk.begin));
      EXPECT_LE(chunk.token_count, 16u);
      EXPECT_EQ(CountTokens(*c.encoder, chunk.text), chunk.token_count) << chunk.text;
      EXPECT_LE(chunk.begin, prev_end);  // no gap
      EXPECT_GT(chunk.end, prev_end);
      prev_end = chunk.end;
    }
    EXPECT_EQ(prev_end, c.text.size());
  }
}

TEST(Chunker, InvalidUtf8NamesTheByte) {
  const auto hashing = Hashing();
  const auto wp = Uncased();
  struct Case {
    std::string text;
    size_t byte;
  };
  for (const TextEncoder* encoder : {static_cast<const TextEncoder*>(hashing.get()),
                                     static_cast<const TextEncoder*>(wp.get())}) {
    const Chunker chunker = MakeChunker(*encoder, 16, 2);
    for (const Case& c : {Case{"abc\xFF"
                               "def",
                               3},
                          Case{"ok \xE4\xB8", 3}, Case{"\xC0\x80", 0}, Case{"a\xED\xA0\x80", 1},
                          Case{"good text. " + std::string(100, 'x') + "\x80", 111}}) {
      const Status status = chunker.Split(c.text).status();
      EXPECT_TRUE(status.IsInvalidArgument()) << status;
      const std::string want = "invalid UTF-8 at byte " + std::to_string(c.byte);
      const size_t at = status.message().find(want);
      ASSERT_NE(at, std::string::npos) << status;
      const size_t after = at + want.size();
      EXPECT_TRUE(after == status.message().size() || status.message()[after] == ' ') << status;
    }
  }
}

TEST(Chunker, KeepsNulBytesAndOffsets) {
  const auto hashing = Hashing();
  const auto wp = Uncased();
  const std::string text("alpha\0beta gamma. Delta\0 epsilon zeta eta. Theta iota", 53);
  for (const TextEncoder* encoder : {static_cast<const TextEncoder*>(hashing.get()),
                                     static_cast<const TextEncoder*>(wp.get())}) {
    const std::vector<Chunk> chunks = Split(MakeChunker(*encoder, 5, 1), text);
    ASSERT_GE(chunks.size(), 2u);
    EXPECT_EQ(chunks.front().begin, 0u);
    EXPECT_EQ(chunks.back().end, text.size());
    for (const Chunk& c : chunks) EXPECT_EQ(c.text, text.substr(c.begin, c.end - c.begin));
    EXPECT_NE(chunks[0].text.find('\0'), std::string::npos);
  }
}

TEST(Chunker, IsDeterministic) {
  const auto wp = Uncased();
  std::string text;
  for (int i = 0; i < 400; ++i) text += "Sentence number " + std::to_string(i) + " is here. ";
  const Chunker chunker = MakeChunker(*wp, 40, 6);
  EXPECT_EQ(Split(chunker, text), Split(chunker, text));
}

// ---------------------------------------------------------------------------
// Properties on random texts
// ---------------------------------------------------------------------------

std::string Pick(std::mt19937& rng, std::span<const std::string_view> items) {
  return std::string(items[rng() % items.size()]);
}

// Random mixtures of English sentences, CJK, emoji, long words, URLs,
// line breaks, odd whitespace and controls.
std::string RandomText(std::mt19937& rng) {
  static constexpr std::string_view kWords[] = {"the",
                                                "cat",
                                                "river",
                                                "model",
                                                "token",
                                                "database",
                                                "search",
                                                "vector",
                                                "quickly",
                                                "naïve",
                                                "café",
                                                "Ångström",
                                                "e\u0301te\u0301",
                                                "3.14",
                                                "U.S.",
                                                "don't",
                                                "foo/bar",
                                                "C++",
                                                "x86_64",
                                                "tokenization",
                                                "unbelievable",
                                                "Москва",
                                                "straße",
                                                "(see",
                                                "note)",
                                                "\"quoted\"",
                                                "é",
                                                "ﬁne",
                                                "ＡＢＣ",
                                                "[MASK]",
                                                "[SEP]"};
  static constexpr std::string_view kCjk[] = {"机", "器", "学", "习", "是", "人", "工", "智",
                                              "能", "今", "天", "气", "很", "好", "の", "日",
                                              "本", "語", "한", "국", "어", "，", "、"};
  static constexpr std::string_view kCjkEnds[] = {"。", "！", "？", "；", "．", "｡", "。”", ""};
  static constexpr std::string_view kEnds[] = {".", "!", "?", ".\"", "?)", "…", ":", ","};
  static constexpr std::string_view kEmoji[] = {
      "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "∑", "€"};
  static constexpr std::string_view kBreaks[] = {"\n", "\n\n",   "\r\n",   "\n \n",
                                                 "\f", "\u2028", "\u2029", "\n\n\n"};
  static constexpr std::string_view kSpaces[] = {" ", "  ", "\t", "\u00a0", "\u3000", " \u200b "};
  static constexpr std::string_view kOdd[] = {
      std::string_view("\0", 1), "\x01", "\u200d", "\ufeff", "\u0301", "e.g. the", "Dr. smith"};
  const size_t target = rng() % 3000;
  std::string text;
  while (text.size() < target) {
    const unsigned kind = rng() % 20;
    if (kind < 8) {  // an English sentence
      const int words = 2 + static_cast<int>(rng() % 14);
      for (int w = 0; w < words; ++w) {
        std::string word = Pick(rng, kWords);
        if (w == 0 && word[0] >= 'a' && word[0] <= 'z') word[0] = static_cast<char>(word[0] - 32);
        text += word + (w + 1 < words ? " " : "");
      }
      text += Pick(rng, kEnds) + " ";
    } else if (kind < 11) {  // a CJK sentence, no spaces
      const int chars = 1 + static_cast<int>(rng() % 20);
      for (int c = 0; c < chars; ++c) text += Pick(rng, kCjk);
      text += Pick(rng, kCjkEnds);
    } else if (kind == 11) {
      text += Pick(rng, kEmoji);
    } else if (kind == 12) {  // a long word
      const size_t length = 20 + rng() % 280;
      for (size_t i = 0; i < length; ++i) text += static_cast<char>('a' + rng() % 26);
      text += " ";
    } else if (kind == 13) {  // a URL or base64
      static constexpr char kB64[] =
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      text += rng() % 2 ? "https://example.com/" : "";
      const size_t length = 50 + rng() % 1500;
      for (size_t i = 0; i < length; ++i) text += kB64[rng() % 64];
      text += "== ";
    } else if (kind < 16) {
      text += Pick(rng, kBreaks);
    } else if (kind < 18) {
      text += Pick(rng, kSpaces);
    } else {
      text += Pick(rng, kOdd);
    }
  }
  return text;
}

// The code point ending at `end` (valid UTF-8).
char32_t Before(std::string_view text, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) --i;
  char32_t cp = static_cast<unsigned char>(text[i]);
  if (cp >= 0x80) {
    const size_t len = end - i;
    cp &= len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07;
    for (size_t k = i + 1; k < end; ++k) cp = (cp << 6) | (text[k] & 0x3F);
  }
  return cp;
}

bool IsCjkEnd(char32_t cp) {
  return cp == U'。' || cp == U'！' || cp == U'？' || cp == U'；' || cp == U'．' || cp == U'｡';
}

// Whether the text may be cut before token i: not between tokens made from
// one character.
bool CanCut(const std::vector<TokenSpan>& t, size_t i) { return t[i].begin >= t[i - 1].end; }

std::string_view GapBefore(std::string_view text, const std::vector<TokenSpan>& t, size_t i) {
  return CanCut(t, i) ? text.substr(t[i - 1].end, t[i].begin - t[i - 1].end) : std::string_view();
}

// Oracle, simpler than the chunker's rules: an unmistakable sentence end
// before token i ("end. Next" or a CJK terminator) ...
bool ClearSentenceEnd(std::string_view text, const std::vector<TokenSpan>& t, size_t i) {
  if (!CanCut(t, i)) return false;
  const char32_t cp = Before(text, t[i - 1].end);
  if (IsCjkEnd(cp)) return true;
  const std::string_view gap = GapBefore(text, t, i);
  const char next = text[t[i].begin];
  return (cp == '.' || cp == '!' || cp == '?') && gap == " " && next >= 'A' && next <= 'Z';
}

// ... a blank line ...
bool BlankLine(std::string_view text, const std::vector<TokenSpan>& t, size_t i) {
  const std::string_view gap = GapBefore(text, t, i);
  return std::count(gap.begin(), gap.end(), '\n') >= 2;
}

// ... and what the chunker may choose over a sentence end: a line or
// paragraph break, or a terminator (after closing quotes or brackets).
bool SentenceOrBreak(std::string_view text, const std::vector<TokenSpan>& t, size_t i) {
  if (!CanCut(t, i)) return false;
  const std::string_view gap = GapBefore(text, t, i);
  if (gap.find_first_of("\n\r\f") != std::string_view::npos ||
      gap.find("\u2028") != std::string_view::npos ||
      gap.find("\u2029") != std::string_view::npos) {
    return true;
  }
  size_t at = t[i - 1].end;
  char32_t cp = Before(text, at);
  for (int k = 0; k < 4 && std::u32string_view(U"\"')]}’”»›」』】〕〉》）］｝｣").find(cp) !=
                               std::u32string_view::npos;
       ++k) {
    while ((static_cast<unsigned char>(text[--at]) & 0xC0) == 0x80) {
    }
    if (at == 0) return false;
    cp = Before(text, at);
  }
  return cp == '.' || cp == '!' || cp == '?' || cp == U'…' || IsCjkEnd(cp);
}

bool ParagraphCut(std::string_view text, const std::vector<TokenSpan>& t, size_t i) {
  const std::string_view gap = GapBefore(text, t, i);
  return std::count(gap.begin(), gap.end(), '\n') + std::count(gap.begin(), gap.end(), '\r') >= 2 ||
         gap.find_first_of("\f") != std::string_view::npos ||
         gap.find("\u2029") != std::string_view::npos;
}

bool StartsOrEndsWithSpace(std::string_view s) {
  for (std::string_view space :
       {" ", "\t", "\n", "\r", "\f", "\v", "\u00a0", "\u3000", "\u2028", "\u2029"}) {
    if (s.starts_with(space) || s.ends_with(space)) return true;
  }
  return false;
}

// Checks every documented property of `chunks` of `text`.
void CheckChunks(const TextEncoder& encoder, const Chunker& chunker, std::string_view text,
                 const std::vector<Chunk>& chunks) {
  ASSERT_OK_AND_ASSIGN(const std::vector<TokenSpan> t, encoder.TokenSpans(text));
  const size_t c = chunker.chunk_tokens();
  const size_t o = chunker.overlap_tokens();
  const auto* wp = dynamic_cast<const WordPieceSpans*>(&encoder);
  std::vector<int32_t> ids;
  if (wp != nullptr) {
    ASSERT_OK_AND_ASSIGN(const auto enc, wp->tokenizer().Encode(text, 0));
    ids.assign(enc.ids.begin() + 1, enc.ids.end() - 1);
  }
  ASSERT_EQ(chunks.empty(), t.empty());
  size_t next_token = 0;  // tokens [0, next_token) are covered
  size_t prev_s = 0, prev_e = 0;
  for (size_t k = 0; k < chunks.size(); ++k) {
    const Chunk& chunk = chunks[k];
    SCOPED_TRACE("chunk " + std::to_string(k) + " [" + std::to_string(chunk.begin) + ", " +
                 std::to_string(chunk.end) + ")");
    ASSERT_EQ(chunk.ordinal, k);
    ASSERT_LT(chunk.begin, chunk.end);
    ASSERT_LE(chunk.end, text.size());
    ASSERT_EQ(chunk.text, text.substr(chunk.begin, chunk.end - chunk.begin));
    EXPECT_NE(static_cast<unsigned char>(text[chunk.begin]) & 0xC0, 0x80);
    if (chunk.end < text.size()) {
      EXPECT_NE(static_cast<unsigned char>(text[chunk.end]) & 0xC0, 0x80);
    }
    EXPECT_FALSE(StartsOrEndsWithSpace(chunk.text));
    // Its tokens in the whole text: [s, e).
    const size_t s = static_cast<size_t>(
        std::lower_bound(t.begin(), t.end(), chunk.begin,
                         [](const TokenSpan& a, size_t b) { return a.begin < b; }) -
        t.begin());
    size_t e = s;
    while (e < t.size() && t[e].end <= chunk.end) ++e;
    ASSERT_LT(s, e);
    ASSERT_EQ(t[s].begin, chunk.begin);
    ASSERT_EQ(t[e - 1].end, chunk.end);
    // No gap: the chunk starts at or before the first uncovered token.
    ASSERT_LE(s, next_token);
    next_token = std::max(next_token, e);
    // Re-tokenized, the chunk fits and has token_count tokens; with
    // whole-word edges they are exactly its tokens in the whole text.
    EXPECT_LE(chunk.token_count, c);
    EXPECT_EQ(CountTokens(encoder, chunk.text), chunk.token_count);
    const bool mid_word = t[s].continues_word || (e < t.size() && t[e].continues_word);
    if (!mid_word) {
      EXPECT_EQ(chunk.token_count, e - s);
      if (wp != nullptr) {
        ASSERT_OK_AND_ASSIGN(const auto again, wp->tokenizer().Encode(chunk.text, 0));
        EXPECT_TRUE(std::equal(again.ids.begin() + 1, again.ids.end() - 1, ids.begin() + s,
                               ids.begin() + e));
      }
    }
    if (k > 0) {
      EXPECT_GT(s, prev_s);
      // Overlap: at most O tokens, at least ceil(O/2) when the chunk before
      // had room for that.
      const size_t overlap = prev_e > s ? prev_e - s : 0;
      EXPECT_LE(overlap, o);
      if (overlap < std::min((o + 1) / 2, prev_e - prev_s - 1)) {
        // Only if no cut was possible there (tokens of one character).
        EXPECT_EQ(overlap, 0u);
        for (size_t i = std::max(prev_s + 1, prev_e - std::min(o, prev_e));
             i <= prev_e - (o + 1) / 2; ++i) {
          EXPECT_FALSE(CanCut(t, i)) << "cut " << i;
        }
      }
    }
    // The end: a sentence end or line break whenever the allowed range
    // [s + ceil(C/2), s + C] holds a clear sentence end; a blank line
    // whenever it holds one.
    const bool last = k + 1 == chunks.size();
    if (!last && !mid_word && e < t.size()) {
      const size_t lo = std::max(s + (c + 1) / 2, k > 0 ? prev_e + 1 : 0);
      bool clear = false, blank = false;
      for (size_t i = lo; i <= std::min(s + c, t.size() - 1); ++i) {
        clear = clear || ClearSentenceEnd(text, t, i);
        blank = blank || BlankLine(text, t, i);
      }
      if (clear) {
        EXPECT_TRUE(SentenceOrBreak(text, t, e)) << chunk.text;
      }
      if (blank) {
        EXPECT_TRUE(ParagraphCut(text, t, e)) << chunk.text;
      }
    }
    prev_s = s;
    prev_e = e;
  }
  EXPECT_EQ(next_token, t.size());  // every token covered
}

TEST(ChunkerProperties, RandomTexts) {
  const auto uncased = Uncased();
  const auto chinese = Chinese();
  const auto hashing = Hashing();
  std::mt19937 rng(20240601);
  size_t chunk_count = 0;
  for (const TextEncoder* encoder : {static_cast<const TextEncoder*>(uncased.get()),
                                     static_cast<const TextEncoder*>(chinese.get()),
                                     static_cast<const TextEncoder*>(hashing.get())}) {
    for (int round = 0; round < 120; ++round) {
      const std::string text = RandomText(rng);
      const size_t c = 8 + rng() % 41;
      const size_t o = rng() % (c / 2 + 1);
      const Chunker chunker = MakeChunker(*encoder, c, o);
      SCOPED_TRACE(encoder->spec() + " round " + std::to_string(round) + " C=" + std::to_string(c) +
                   " O=" + std::to_string(o) + " text: " + nlohmann::json(text).dump());
      const std::vector<Chunk> chunks = Split(chunker, text);
      chunk_count += chunks.size();
      CheckChunks(*encoder, chunker, text, chunks);
      if (HasFatalFailure() || HasFailure()) return;
    }
  }
  EXPECT_GT(chunk_count, 2000u);  // the texts were long enough to be cut
}

// The tokenizer's own edge cases (accents, controls, added tokens, CJK,
// Unicode punctuation) as chunker inputs, cut into tiny windows.
TEST(ChunkerProperties, TokenizerReferenceTexts) {
  const auto uncased = Uncased();
  const auto chinese = Chinese();
  std::ifstream in(kTestdataDir + "/tokenizer_refs.jsonl");
  ASSERT_TRUE(in.good());
  std::string line;
  int texts = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const std::string text = nlohmann::json::parse(line).at("text").get<std::string>();
    for (const WordPieceSpans* encoder : {uncased.get(), chinese.get()}) {
      for (size_t c : {8, 13}) {
        const Chunker chunker = MakeChunker(*encoder, c, c / 4);
        SCOPED_TRACE("text " + nlohmann::json(text).dump() + " C=" + std::to_string(c));
        CheckChunks(*encoder, chunker, text, Split(chunker, text));
        if (HasFailure()) return;
      }
    }
    ++texts;
  }
  EXPECT_GE(texts, 270);
}

}  // namespace
}  // namespace flashembed::encoders
