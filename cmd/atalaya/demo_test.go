package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"
)

// `atalaya demo` serves what it found: the administrator it prints signs
// in to the map's API, and the methamphetamine laboratory is there as a
// candidate site with both sensors' evidence; interrupting it stops it.
func TestDemoServesTheMap(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	cmd := newRootCmd()
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"demo", "--out", t.TempDir(), "--http", addr, "-q", "--log-level", "warn"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	deadline := time.After(15 * time.Minute)
	for !strings.Contains(out.String(), "the map: http://"+addr) {
		select {
		case err := <-done:
			t.Fatalf("demo ended: %v\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("demo not serving after 15 minutes:\n%s", out.String())
		case <-time.After(500 * time.Millisecond):
		}
	}
	m := regexp.MustCompile(`administrator "admin" with password (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no administrator password printed:\n%s", out.String())
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": m[1]})
	resp, err := c.Post("http://"+addr+"/api/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign in: %s", resp.Status)
	}
	resp, err = c.Get("http://" + addr + "/api/v1/sites")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Items []struct {
			TypeGuess string  `json:"type_guess"`
			Lat       float64 `json:"lat"`
			Lon       float64 `json:"lon"`
		} `json:"items"`
	}
	err = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("sites: %s, %v", resp.Status, err)
	}
	lab := false
	for _, s := range page.Items {
		lab = lab || s.TypeGuess == "methamphetamine-lab"
	}
	if !lab {
		t.Errorf("no methamphetamine-lab site among %d served:\n%s", len(page.Items), out.String())
	}
	resp, err = c.Get("http://" + addr + "/")
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("the map page: %v %v", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil && ctx.Err() == nil {
			t.Errorf("demo stopped with %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("demo did not stop within a minute of the interrupt")
	}
}
