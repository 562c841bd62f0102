/**
 * Profile handlers: decide which scheduling profiles run for a request and which result is primary. Type
 * {@code single-profile-handler}, the default for a configuration with one profile.
 */
package dev.epp.scheduler.plugins.profile;
