package access

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOverHTTP runs sign-in, a cookie-authenticated GET, a POST with and
// without the CSRF token, a bearer token and sign-out through a real
// net/http server and client (with its cookie jar), the way the server
// will use the Service.
func TestOverHTTP(t *testing.T) {
	both(t, func(t *testing.T, d *db) {
		f := setup(t, d)
		s := f.s
		admin := System("test")
		tok, _, err := s.CreateToken(ctx, admin, "operator1", "http test", 0)
		if err != nil {
			t.Fatal(err)
		}
		status := func(err error) int {
			switch {
			case errors.Is(err, ErrCSRF), errors.Is(err, ErrForbidden):
				return http.StatusForbidden
			case err != nil:
				return http.StatusUnauthorized
			}
			return http.StatusOK
		}
		mux := http.NewServeMux()
		mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
			var req struct{ Username, Password string }
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			sess, err := s.Login(r.Context(), req.Username, req.Password)
			if err != nil {
				http.Error(w, err.Error(), status(err))
				return
			}
			http.SetCookie(w, sess.Cookie(r.TLS != nil))
			_ = json.NewEncoder(w).Encode(map[string]any{"user": sess.User, "csrf_token": sess.CSRF})
		})
		mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
			if err := s.Logout(r.Context(), r); err != nil {
				http.Error(w, err.Error(), status(err))
				return
			}
			http.SetCookie(w, ClearCookie(r.TLS != nil))
		})
		mux.HandleFunc("/sites", func(w http.ResponseWriter, r *http.Request) {
			p, err := s.Authenticate(r.Context(), r)
			if err == nil && !p.Can(ReadSites) {
				err = ErrForbidden
			}
			if err != nil {
				http.Error(w, err.Error(), status(err))
				return
			}
			_, _ = io.WriteString(w, string(p.Role))
		})
		srv := httptest.NewServer(mux)
		defer srv.Close()
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar}
		do := func(method, path, body string, header map[string]string) (int, string) {
			t.Helper()
			req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
			for k, v := range header {
				req.Header.Set(k, v)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}
		if code, _ := do("GET", "/sites", "", nil); code != 401 {
			t.Fatalf("GET /sites before sign-in: %d", code)
		}
		if code, _ := do("POST", "/login", `{"username":"analyst1","password":"wrong one, long enough"}`, nil); code != 401 {
			t.Fatalf("wrong password: %d", code)
		}
		code, body := do("POST", "/login", `{"username":"analyst1","password":"`+f.pw+`"}`, nil)
		var login struct {
			User      User   `json:"user"`
			CSRFToken string `json:"csrf_token"`
		}
		if err := json.Unmarshal([]byte(body), &login); code != 200 || err != nil || login.User.Username != "analyst1" || login.CSRFToken == "" {
			t.Fatalf("login: %d %s", code, body)
		}
		if code, body := do("GET", "/sites", "", nil); code != 200 || body != "analyst" {
			t.Fatalf("GET /sites with the cookie: %d %s", code, body)
		}
		if code, _ := do("POST", "/sites", "{}", nil); code != 403 {
			t.Fatalf("POST without the CSRF token: %d", code)
		}
		if code, _ := do("POST", "/sites", "{}", map[string]string{"X-CSRF-Token": login.CSRFToken}); code != 200 {
			t.Fatalf("POST with the CSRF token: %d", code)
		}
		// A bearer token needs no CSRF token, cookie or not.
		if code, body := do("POST", "/sites", "{}", map[string]string{"Authorization": "Bearer " + tok}); code != 200 || body != "operator" {
			t.Fatalf("POST with a bearer token: %d %s", code, body)
		}
		if code, _ := do("POST", "/logout", "", map[string]string{"X-CSRF-Token": login.CSRFToken}); code != 200 {
			t.Fatalf("logout: %d", code)
		}
		if code, _ := do("GET", "/sites", "", nil); code != 401 {
			t.Fatalf("GET /sites after sign-out: %d", code)
		}
	})
}
