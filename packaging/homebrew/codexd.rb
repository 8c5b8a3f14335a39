# Homebrew formula for codexd. Publish it in a tap (e.g. `brew tap <owner>/codexd`);
# `url` and `sha256` are filled in for each release from the tagged source tarball.
class Codexd < Formula
  desc "Local Anthropic Messages API answered by your ChatGPT Codex login"
  homepage "https://github.com/codexd/codexd"
  url "https://github.com/codexd/codexd/archive/refs/tags/v0.1.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license "MIT"
  head "https://github.com/codexd/codexd.git", branch: "main"

  depends_on "rust" => :build

  def install
    system "cargo", "install", *std_cargo_args
    generate_completions_from_executable(bin/"codexd", "completions")
  end

  # `brew services start codexd` runs the daemon at login (launchd on macOS,
  # systemd on Linux). Use either this or `codexd install`, not both: they
  # would compete for the same port.
  service do
    run [opt_bin/"codexd", "serve"]
    keep_alive successful_exit: false
    log_path var/"log/codexd.log"
    error_log_path var/"log/codexd.log"
  end

  def caveats
    <<~EOS
      Sign in once with your ChatGPT account:
        codexd login
      Then run the daemon at login with either
        brew services start codexd
      or codexd's own installer
        codexd install
      and point Claude Code at it:
        codexd claude
    EOS
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/codexd --version")
    assert_match "ANTHROPIC_BASE_URL", shell_output("#{bin}/codexd env --shell bash")
    assert_match "skip  upstream", shell_output("#{bin}/codexd doctor --offline", 1)
  end
end
