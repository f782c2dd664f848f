package report

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPageInChromium opens the page in headless Chromium, offline: it must
// render (the DOM holds every conflict, values escaped), log nothing to
// the console (no script error, no resource the Content-Security-Policy
// refused) and give a screenshot that is a real picture. Set
// RECOUP_REPORT_SCREENSHOT to a file path to keep the screenshot.
func TestPageInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is missing: apt-get install -y chromium")
	}
	dir := t.TempDir()
	_, htmlPath, err := Save(dir, fixtureReport())
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "page.png")
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--enable-logging=stderr", "--v=0",
		"--dump-dom", "--screenshot="+shot, "--window-size=1280,2000", "file://"+htmlPath)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, tail(stderr.String()))
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, ":CONSOLE") || strings.Contains(line, "Uncaught") || strings.Contains(line, "Content Security Policy") {
			t.Errorf("browser console: %s", line)
		}
	}
	dom := stdout.String()
	for _, want := range []string{`id="c1"`, `id="c2"`, "REVIEW BEFORE RUNNING", "&lt;script&gt;alert(1)&lt;/script&gt;", "0-1-103"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %q", want)
		}
	}
	if strings.Contains(strings.ToLower(dom), "<script") {
		t.Error("rendered DOM has a script element")
	}
	checkScreenshot(t, shot)
	if keep := os.Getenv("RECOUP_REPORT_SCREENSHOT"); keep != "" {
		b, _ := os.ReadFile(shot)
		if err := os.WriteFile(keep, b, 0o644); err != nil {
			t.Errorf("keeping the screenshot: %v", err)
		}
	}
}

// checkScreenshot decodes the PNG and wants a picture, not a blank page.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	b := img.Bounds()
	if b.Dx() != 1280 || b.Dy() != 2000 {
		t.Errorf("screenshot is %dx%d, want 1280x2000", b.Dx(), b.Dy())
	}
	colors := map[[4]uint32]int{}
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, a := img.At(x, y).RGBA()
			colors[[4]uint32{r, g, bl, a}]++
		}
	}
	if len(colors) < 50 {
		t.Errorf("screenshot has %d distinct colors: the page did not render", len(colors))
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return s[len(s)-4000:]
	}
	return s
}
