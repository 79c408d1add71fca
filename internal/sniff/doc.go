// Package sniff turns point-sensor traces into located sources.
package sniff
