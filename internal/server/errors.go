package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/atalaya-project/atalaya/internal/store"
)

// Error codes of the API's error body.
const (
	CodeInvalid            = "invalid"
	CodeNotFound           = "not_found"
	CodeForbidden          = "forbidden"
	CodeUnauthorized       = "unauthorized"
	CodeConflict           = "conflict"
	CodePreconditionFailed = "precondition_failed"
	CodeTooLarge           = "too_large"
	CodeUnavailable        = "unavailable"
	CodeInternal           = "internal"
)

// apiError is an error with its HTTP status and body.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *apiError) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

func errorf(status int, code, field, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

func invalid(field, format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, CodeInvalid, field, format, args...)
}

func notFound(format string, args ...any) *apiError {
	return errorf(http.StatusNotFound, CodeNotFound, "", format, args...)
}

func forbidden(format string, args ...any) *apiError {
	return errorf(http.StatusForbidden, CodeForbidden, "", format, args...)
}

func unauthorized(format string, args ...any) *apiError {
	return errorf(http.StatusUnauthorized, CodeUnauthorized, "", format, args...)
}

// writeError writes err as the API's error body. Errors that are not
// apiErrors become 404, 409 or 400 after the store's sentinels, else 500
// with a message that reveals nothing (the log has the detail).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		switch {
		case errors.Is(err, store.ErrNotFound):
			ae = notFound("not found")
		case errors.Is(err, store.ErrConflict):
			ae = errorf(http.StatusConflict, CodeConflict, "", "the record changed meanwhile: read it again")
		case errors.Is(err, store.ErrInvalid):
			ae = invalid("", "%v", err)
		default:
			s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			ae = errorf(http.StatusInternalServerError, CodeInternal, "", "internal error")
		}
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="atalaya"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(ae.Status)
	_ = json.NewEncoder(w).Encode(struct {
		Error *apiError `json:"error"`
	}{ae})
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
